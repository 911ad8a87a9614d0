// Command fakeiot runs the fake AWS IoT fleet provisioning endpoint on the
// loopback interface for demos and manual tests.
//
// It writes a fixture (root CA, claim certificate and key, Greengrass Lite
// configuration) into --dir, prints "listening on ADDR" and "ready" on
// standard output, serves until SIGTERM or SIGINT, then prints the things
// registered and exits 0. The log goes to standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ggl-fleetd/ggl-fleetd/internal/fakeiot"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command-line settings.
type options struct {
	dir          string
	listen       string
	alpn         bool
	alpnListen   string
	thingPrefix  string
	template     string
	registerRate float64
	delayFirst   time.Duration
	throttle     int
}

// errUsage marks an invalid command line (exit status 2).
var errUsage = errors.New("invalid command line")

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("fakeiot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.dir, "dir", "",
		"directory for the fixture: certificates and Greengrass Lite configuration (required)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0",
		"loopback address of the MQTT over TLS listener")
	fs.BoolVar(&o.alpn, "alpn", false,
		"also listen with required ALPN x-amzn-mqtt-ca, as AWS IoT does on port 443")
	fs.StringVar(&o.alpnListen, "alpn-listen", "127.0.0.1:0",
		"loopback address of the ALPN listener")
	fs.StringVar(&o.thingPrefix, "thing-prefix", "",
		"prefix of every thing name; the SerialNumber parameter follows")
	fs.StringVar(&o.template, "template", "FleetTemplate",
		"provisioning template name")
	fs.Float64Var(&o.registerRate, "register-rate", 0,
		"RegisterThing requests per second before 429 ThrottlingException (0 = no limit)")
	fs.DurationVar(&o.delayFirst, "delay-first", 0,
		"delay the response to the first certificate creation request by this duration")
	fs.IntVar(&o.throttle, "throttle-first", 0,
		"respond to the first N RegisterThing requests with 429 ThrottlingException")

	if err := fs.Parse(args); err != nil {
		return o, errUsage
	}
	if o.dir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: fakeiot --dir DIR [--listen 127.0.0.1:0] [--alpn] [--thing-prefix P] [--template NAME] [--register-rate R] [--delay-first DURATION] [--throttle-first N]")
		return o, errUsage
	}
	for _, addr := range []string{o.listen, o.alpnListen} {
		if err := fakeiot.CheckLoopback(addr); err != nil {
			fmt.Fprintf(stderr, "fakeiot: %v\n", err)
			return o, errUsage
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return 2
	}

	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()

	if err := serve(ctx, o, log, stdout); err != nil {
		log.Error("fake endpoint failed", zap.Error(err))
		return 1
	}
	return 0
}

// serve starts the fake, writes the fixture, waits for ctx and prints the
// summary.
func serve(ctx context.Context, o options, log *zap.Logger, stdout io.Writer) error {
	s, err := fakeiot.Start(fakeiot.Config{
		TemplateName: o.template,
		ThingPrefix:  o.thingPrefix,
		RegisterRate: o.registerRate,
		ALPN:         o.alpn,
		Address:      o.listen,
		ALPNAddress:  o.alpnListen,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()

	if o.delayFirst > 0 {
		s.Inject(fakeiot.OpCreateFromCSR, fakeiot.Delay(o.delayFirst))
		s.Inject(fakeiot.OpCreateKeys, fakeiot.Delay(o.delayFirst))
	}
	for range o.throttle {
		s.Inject(fakeiot.OpRegister, fakeiot.Reject(429, "ThrottlingException", "Rate exceeded"))
	}

	f, err := s.WriteFixture(o.dir)
	if err != nil {
		return fmt.Errorf("write fixture in %q: %w", o.dir, err)
	}
	log.Info("fixture written", zap.String("path", f.ConfigPath))

	if s.ALPNAddr() != "" {
		fmt.Fprintf(stdout, "listening on %s (alpn %s)\n", s.Addr(), s.ALPNAddr())
	} else {
		fmt.Fprintf(stdout, "listening on %s\n", s.Addr())
	}
	fmt.Fprintln(stdout, "ready")

	<-ctx.Done()
	log.Info("stopping on signal")
	printSummary(stdout, s)
	return nil
}

func printSummary(w io.Writer, s *fakeiot.Server) {
	things := s.Things()
	fmt.Fprintf(w, "things registered: %d\n", len(things))
	for _, t := range things {
		fmt.Fprintf(w, "thing %s certificate %s registrations %d\n",
			t.Name, t.CertificateID, t.Registrations)
	}
}

// newLogger returns a console logger at info level that writes to w.
func newLogger(w io.Writer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(w), zap.InfoLevel))
}
