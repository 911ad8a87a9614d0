package daemon

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ggl-fleetd/ggl-fleetd/pkg/ggconfig"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/identity"
	"github.com/ggl-fleetd/ggl-fleetd/pkg/provision"
)

// provisionOptions maps the configuration and the device ID onto the options
// of the provisioning client.
func provisionOptions(cfg *ggconfig.Config, id identity.Result, o Options, log *zap.Logger) provision.Options {
	f := cfg.Fleet
	return provision.Options{
		Endpoint:       cfg.DataEndpoint(),
		Port:           f.MQTTPort,
		ALPN:           f.ALPN,
		RootCAPath:     f.RootCAPath,
		UseSystemRoots: f.UseSystemRoots,
		ClaimCertPath:  f.ClaimCertPath,
		ClaimKeyPath:   f.ClaimKeyPath,
		ClientID:       id.ID,
		TemplateName:   f.TemplateName,
		Params:         cfg.Params(id.ID),
		CSRCommonName:  commonName(f.CSRCommonName, id.ID),
		KeyType:        provision.KeyType(f.KeyType),
		ProxyURL:       cfg.Nucleus.ProxyURL,
		NoProxy:        cfg.Nucleus.NoProxy,

		ResponseTimeout: f.ResponseTimeout,
		Retry: provision.RetryPolicy{
			TransientMax: f.RetryMaxDelay,
			RejectedMax:  f.RejectedRetryMaxDelay,
			MaxAttempts:  f.MaxAttempts,
		},
		Logger:        log,
		Progress:      progressReporter(o, log),
		Alive:         o.Notifier.Alive,
		AliveInterval: o.Notifier.AliveInterval(),
	}
}

// progressReporter turns each provisioning step into a systemd status line,
// so that `systemctl status` shows what the daemon waits for.
func progressReporter(o Options, log *zap.Logger) func(provision.Event) {
	return func(ev provision.Event) {
		o.Notifier.Status(statusLine(ev))
	}
}

func statusLine(ev provision.Event) string {
	s := fmt.Sprintf("%s, attempt %d", ev.Step, ev.Attempt)
	if ev.NextDelay > 0 {
		s += fmt.Sprintf(", next try in %s", ev.NextDelay.Round(time.Second))
	}
	if ev.Err != nil {
		s += fmt.Sprintf(", last error: %v", ev.Err)
	}
	return s
}

// provisionAndInstall obtains a new identity from the cloud and installs it.
func provisionAndInstall(ctx context.Context, cfg *ggconfig.Config, id identity.Result, o Options, log *zap.Logger) error {
	if err := Preflight(cfg); err != nil {
		return err
	}
	log.Info("provisioning started",
		zap.String("template", cfg.Fleet.TemplateName),
		zap.String("endpoint", cfg.DataEndpoint()))

	res, err := provision.Run(ctx, provisionOptions(cfg, id, o, log))
	if err != nil {
		return fmt.Errorf("fleet provisioning: %w", err)
	}
	log = log.With(zap.String("thing-name", res.ThingName))

	if err := installIdentity(ctx, cfg, id, res, o, log); err != nil {
		return err
	}
	return restartUnits(ctx, cfg, o, log)
}

// commonName returns the CSR's subject CN: the configured one, else the
// device ID cut to the 64 characters that X.509 allows in a CN. AWS IoT
// does not read the CN, so a cut ID is harmless.
func commonName(configured, deviceID string) string {
	if configured != "" || len(deviceID) <= 64 {
		return configured
	}
	return deviceID[:64]
}
