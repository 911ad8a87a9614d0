package fakeiot

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitThings(t *testing.T) {
	s := startFake(t, Config{TemplateName: "Tmpl"})
	tc := provisioner(t, s)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.WaitThings(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitThings() before registration: error = %v; want DeadlineExceeded", err)
	}

	created, _ := createFromCSR(t, tc)
	req := map[string]any{
		"certificateOwnershipToken": created.Token,
		"parameters":                map[string]string{"SerialNumber": "w1"},
	}
	tc.publish(t, provisionTopic("Tmpl"), req)

	ctx, cancel = context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	things, err := s.WaitThings(ctx, 1)
	if err != nil {
		t.Fatalf("WaitThings() error = %v", err)
	}
	if things[0].Name != "w1" {
		t.Errorf("WaitThings()[0].Name = %q; want %q", things[0].Name, "w1")
	}

	err = s.WaitFor(ctx, func(st Stats) bool { return st.Requests[OpRegister] == 1 })
	if err != nil {
		t.Errorf("WaitFor(one RegisterThing) error = %v", err)
	}
}
