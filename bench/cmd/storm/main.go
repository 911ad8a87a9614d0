// Command storm starts N simulated devices at once against the fake AWS IoT
// endpoint, which limits RegisterThing to R requests per second (429 above)
// and CONNECTs to one per second per client ID, as AWS IoT does. Each device
// has its own device ID, key and TLS connection and runs provision.Run with
// the options that ggl-fleetd derives from its configuration. It reports how
// long the whole fleet took, the achieved registration rate as a share of R,
// per-device times, retries, throttled requests and the certificates issued.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/bench/internal/sample"
	"github.com/ggl-fleetd/ggl-fleetd/internal/daemon"
	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/notify"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
)

// Targets, relative to the ideal time N/R.
const (
	minRateShare = 0.85 // achieved rate / R
	maxWaitRatio = 3.0  // slowest device / (N/R)
)

// config is the command line.
type config struct {
	devices         int
	rate            float64
	connectInterval time.Duration
	timeout         time.Duration
	label           string
	policy          provision.RetryPolicy // zero fields keep the defaults
}

func main() {
	var c config
	flag.IntVar(&c.devices, "n", 1000, "number of simulated devices")
	flag.Float64Var(&c.rate, "rate", 100, "RegisterThing `requests per second` the fake accepts")
	flag.DurationVar(&c.connectInterval, "connect-interval", time.Second,
		"least time between two CONNECTs of one client ID at the fake")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "time after which the storm is stopped")
	flag.DurationVar(&c.policy.Base, "base", 0,
		"RetryPolicy.Base: first transient backoff ceiling (0 = the default)")
	flag.DurationVar(&c.policy.TransientMax, "transient-max", 0,
		"RetryPolicy.TransientMax: transient backoff cap (0 = retryMaxDelay's default)")
	flag.DurationVar(&c.policy.MinReconnect, "min-reconnect", 0,
		"RetryPolicy.MinReconnect: least time between two connects of one client ID (0 = the default)")
	flag.DurationVar(&c.policy.ThrottleBase, "throttle-base", 0,
		"RetryPolicy.ThrottleBase: first backoff ceiling before a throttled request is sent again (0 = the default)")
	flag.DurationVar(&c.policy.ThrottleMax, "throttle-max", 0,
		"RetryPolicy.ThrottleMax: backoff cap before a throttled request is sent again (0 = the default)")
	flag.Parse()

	c.label = policyLabel(c.policy)
	if err := run(c); err != nil {
		fmt.Fprintf(os.Stderr, "storm: %v\n", err)
		os.Exit(1)
	}
}

// policyLabel names the retry policy in the report.
func policyLabel(p provision.RetryPolicy) string {
	if p == (provision.RetryPolicy{}) {
		return "default retry policy"
	}
	return fmt.Sprintf("retry policy base=%v transient-max=%v min-reconnect=%v "+
		"throttle-base=%v throttle-max=%v",
		orDefault(p.Base, provision.DefaultBase),
		orDefault(p.TransientMax, provision.DefaultTransientMax),
		orDefault(p.MinReconnect, provision.DefaultMinReconnect),
		orDefault(p.ThrottleBase, provision.DefaultThrottleBase),
		orDefault(p.ThrottleMax, provision.DefaultThrottleMax))
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func run(c config) error {
	if err := raiseFileLimit(uint64(4*c.devices + 256)); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "ggl-fleetd-storm-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	srv, err := fakeiot.Start(fakeiot.Config{
		ThingPrefix:     "storm-",
		RegisterRate:    c.rate,
		ConnectInterval: c.connectInterval,
	})
	if err != nil {
		return fmt.Errorf("start fake endpoint: %w", err)
	}
	defer srv.Close()

	fixture, err := srv.WriteFixture(dir)
	if err != nil {
		return err
	}
	cfg, err := ggconfig.Load(fixture.ConfigPath)
	if err != nil {
		return err
	}

	outcomes, total := storm(c, cfg)
	// Every certificate but the claim certificate was issued in the storm.
	issued := len(srv.Certificates()) - 1
	return report(c, outcomes, total, srv.Stats(), issued)
}

// raiseFileLimit raises the soft limit of open files to want, or to the
// hard limit when that is lower, and fails when the result is below want:
// every device holds a client and a server socket.
func raiseFileLimit(want uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read open file limit: %w", err)
	}
	if lim.Cur >= want {
		return nil
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open file limit to %d: %w", lim.Cur, err)
	}
	if lim.Cur < want {
		return fmt.Errorf("open file limit %d is below the %d needed: lower -n or raise "+
			"the hard limit (ulimit -Hn)", lim.Cur, want)
	}
	return nil
}

// outcome is the result of one device.
type outcome struct {
	elapsed    time.Duration
	retries    int           // failed attempts
	resends    int           // throttled requests sent again on the same connection
	connected  time.Duration // from the start to the first SUBSCRIBE
	registered time.Duration // from the start to the first RegisterThing
	err        error
}

// storm starts every device at once and waits for all of them.
func storm(c config, cfg *ggconfig.Config) ([]outcome, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()

	outcomes := make([]outcome, c.devices)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range outcomes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			outcomes[i] = provisionDevice(ctx, c, cfg, deviceID(i))
		}()
	}

	began := time.Now()
	close(start)
	wg.Wait()
	return outcomes, time.Since(began)
}

// deviceID returns a MAC-shaped device ID, unique per index.
func deviceID(i int) string {
	return fmt.Sprintf("dca632%06x", i)
}

// provisionDevice runs the provisioning client of one device and counts its
// failed attempts and throttled resends from the progress events.
func provisionDevice(ctx context.Context, c config, cfg *ggconfig.Config,
	id string) outcome {
	var o outcome
	opts := provisionOptions(cfg, id, c.policy)
	began := time.Now()
	opts.Progress = func(ev provision.Event) {
		switch {
		case ev.Step == provision.StepWaiting:
			o.retries++
		case throttledSteps[ev.Step]:
			o.resends++
		case ev.Step == provision.StepSubscribing && o.connected == 0:
			o.connected = time.Since(began)
		case ev.Step == provision.StepRegistering && o.registered == 0:
			o.registered = time.Since(began)
		}
	}

	_, o.err = provision.Run(ctx, opts)
	o.elapsed = time.Since(began)
	return o
}

// throttledSteps are the progress steps of a throttled request that waits to
// be sent again on the same connection.
var throttledSteps = map[string]bool{
	provision.StepThrottledCreateCSR:  true,
	provision.StepThrottledCreateKeys: true,
	provision.StepThrottledRegister:   true,
}

// provisionOptions maps the configuration and a device ID onto the options
// of the provisioning client with the daemon's own mapping, with a silent
// logger and no systemd. Non-zero fields of policy override the retry
// defaults.
func provisionOptions(cfg *ggconfig.Config, id string,
	policy provision.RetryPolicy) provision.Options {
	opts := daemon.ProvisionOptions(cfg, id, notify.New(zap.NewNop()), zap.NewNop())
	r := &opts.Retry
	r.Base = policy.Base
	r.TransientMax = orDefault(policy.TransientMax, r.TransientMax)
	r.MinReconnect = policy.MinReconnect
	r.ThrottleBase = policy.ThrottleBase
	r.ThrottleMax = policy.ThrottleMax
	return opts
}

// summary is the storm's figures over the devices that succeeded.
type summary struct {
	times, connected, registered sample.Durations
	retries, maxRetries          int
	resends, maxResends          int
	failures                     int
}

func summarize(outcomes []outcome) summary {
	var m summary
	for _, o := range outcomes {
		if o.err != nil {
			m.failures++
			fmt.Fprintf(os.Stderr, "device failed after %s: %v\n",
				sample.Millis(o.elapsed), o.err)
			continue
		}
		m.times = append(m.times, o.elapsed)
		m.connected = append(m.connected, o.connected)
		m.registered = append(m.registered, o.registered)
		m.retries += o.retries
		m.maxRetries = max(m.maxRetries, o.retries)
		m.resends += o.resends
		m.maxResends = max(m.maxResends, o.resends)
	}
	return m
}

// report prints the figures of the storm and its result lines. issued is
// the number of device certificates the fake issued.
func report(c config, outcomes []outcome, total time.Duration, st fakeiot.Stats,
	issued int) error {
	m := summarize(outcomes)
	n := len(outcomes)
	done := n - m.failures
	ideal := time.Duration(float64(n) / c.rate * float64(time.Second))
	rate := float64(done) / total.Seconds()
	// The window from the first RegisterThing leaves out the start, when
	// the devices' keys and TLS handshakes and the fake share the CPU.
	window := total - m.registered.Percentile(0)
	windowRate := float64(done) / window.Seconds()
	perDevice := func(count int) float64 { return float64(count) / float64(max(done, 1)) }

	fmt.Printf("storm, %s: %d devices, RegisterThing limit %.0f/s, "+
		"one CONNECT per %v per client ID\n", c.label, n, c.rate, c.connectInterval)
	fmt.Printf("  all done after %.1f s (ideal N/R %.1f s); achieved %.1f/s = %.0f%% of R; "+
		"%.0f%% of R from the first RegisterThing\n",
		total.Seconds(), ideal.Seconds(), rate, 100*rate/c.rate, 100*windowRate/c.rate)
	fmt.Printf("  per device: p50 %.1f s, p99 %.1f s, max %.1f s\n",
		m.times.Median().Seconds(), m.times.Percentile(99).Seconds(),
		m.times.Max().Seconds())
	fmt.Printf("  failed attempts per device: mean %.2f, max %d; throttled requests "+
		"sent again on the same connection per device: mean %.2f, max %d\n",
		perDevice(m.retries), m.maxRetries, perDevice(m.resends), m.maxResends)
	fmt.Printf("  RegisterThing requests %d, throttled %d; rejected responses %d; "+
		"certificates issued %d (%d unused); refused CONNECTs %d; failures %d\n",
		st.Requests[fakeiot.OpRegister], st.Throttled, st.Rejections, issued,
		issued-done, st.ConnectRejections, m.failures)
	fmt.Printf("  first claim connection up after: p50 %.1f s, max %.1f s; "+
		"first RegisterThing sent after: p50 %.1f s, max %.1f s\n",
		m.connected.Median().Seconds(), m.connected.Max().Seconds(),
		m.registered.Median().Seconds(), m.registered.Max().Seconds())
	fmt.Printf("  devices done per second since the start: %s\n", timeline(outcomes))
	fmt.Printf("  CPU time of this process (devices and fake): %s\n", cpuTime())

	name := fmt.Sprintf("storm N=%d R=%.0f/s, %s", n, c.rate, c.label)
	sample.Result(os.Stdout, name+": provisioned",
		fmt.Sprintf("%d of %d in %.1f s", done, n, total.Seconds()),
		"all", sample.Met(m.failures == 0))
	sample.Result(os.Stdout, name+": achieved rate",
		fmt.Sprintf("%.0f%% of R (%.0f%% from the first RegisterThing)",
			100*rate/c.rate, 100*windowRate/c.rate),
		fmt.Sprintf(">= %.0f%%", 100*minRateShare), sample.Met(rate >= minRateShare*c.rate))
	sample.Result(os.Stdout, name+": slowest device",
		fmt.Sprintf("%.1f s (p50 %.1f s, p99 %.1f s)", m.times.Max().Seconds(),
			m.times.Median().Seconds(), m.times.Percentile(99).Seconds()),
		fmt.Sprintf("<= %.0f s (3 N/R)", maxWaitRatio*ideal.Seconds()),
		sample.Met(m.failures == 0 &&
			m.times.Max() <= time.Duration(maxWaitRatio*float64(ideal))))
	sample.Result(os.Stdout, name+": certificates issued",
		fmt.Sprintf("%d for %d devices", issued, done), "one per device",
		sample.Met(issued == done))
	return nil
}

// timeline returns how many devices finished in each second of the storm.
func timeline(outcomes []outcome) string {
	var counts []int
	for _, o := range outcomes {
		if o.err != nil {
			continue
		}
		second := int(o.elapsed / time.Second)
		for len(counts) <= second {
			counts = append(counts, 0)
		}
		counts[second]++
	}
	return fmt.Sprint(counts)
}

// cpuTime returns the user and system CPU time of this process so far.
func cpuTime() string {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return "unknown: " + err.Error()
	}
	user := time.Duration(ru.Utime.Nano())
	system := time.Duration(ru.Stime.Nano())
	return fmt.Sprintf("user %.1f s, system %.1f s", user.Seconds(), system.Seconds())
}
