package claim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/atomicfile"
)

// StateFile is the name of the state file inside the output directory.
const StateFile = "state.json"

// certificateIDPattern matches an AWS IoT certificate ID: 64 hex digits.
var certificateIDPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// State is what ggl-fleet-setup remembers between runs. It holds IDs and
// ARNs only, never key material.
type State struct {
	Stack  string `json:"stack"`  // stack name the state belongs to
	Region string `json:"region"` // AWS Region of the stack
	// Current is the ID of the claim certificate in claim.cert.pem.
	Current string `json:"currentCertificateId,omitempty"`
	// Certificates lists every claim certificate that ggl-fleet-setup
	// created for this stack and has not deleted yet, oldest first.
	Certificates []Record `json:"certificates"`
}

// Record is one claim certificate created by ggl-fleet-setup.
type Record struct {
	ID      string    `json:"id"`      // certificate ID, 64 hex digits
	ARN     string    `json:"arn"`     // certificate ARN
	Created time.Time `json:"created"` // creation time in UTC
}

// LoadState reads dir/state.json. A missing file yields an empty State for
// stack and region; a file written for another stack or Region is an error.
func LoadState(dir, stack, region string) (*State, error) {
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Stack: stack, Region: region}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state %q: %w", path, err)
	}

	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("parse state %q: %w; move the file away to start over",
			path, err)
	}
	if st.Stack != stack || st.Region != region {
		return nil, fmt.Errorf(
			"state %q belongs to stack %q in %q, not %q in %q: use another --out directory",
			path, st.Stack, st.Region, stack, region)
	}
	return &st, st.validate(path)
}

func (s *State) validate(path string) error {
	for _, r := range s.Certificates {
		if !certificateIDPattern.MatchString(r.ID) || r.ARN == "" {
			return fmt.Errorf(
				"state %q: certificate %q is invalid: want 64 hex digits and an ARN",
				path, r.ID)
		}
	}
	if s.Current != "" && s.find(s.Current) == nil {
		return fmt.Errorf(
			"state %q: current certificate %q is not in the certificate list",
			path, s.Current)
	}
	return nil
}

// Save writes the state to dir/state.json atomically.
func (s *State) Save(dir string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	path := filepath.Join(dir, StateFile)
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write state %q: %w", path, err)
	}
	return nil
}

func (s *State) find(id string) *Record {
	for i := range s.Certificates {
		if s.Certificates[i].ID == id {
			return &s.Certificates[i]
		}
	}
	return nil
}

func (s *State) remove(id string) {
	kept := s.Certificates[:0]
	for _, r := range s.Certificates {
		if r.ID != id {
			kept = append(kept, r)
		}
	}
	s.Certificates = kept
	if s.Current == id {
		s.Current = ""
	}
}
