// Command bareclient runs the fleet provisioning flow written directly
// against paho.golang: an EC P-256 key and CSR, CreateCertificateFromCsr and
// RegisterThing over one claim connection, and one connection with the new
// certificate. It has no retry, validation, file installation or logging:
// the least a Go client must do, as the baseline for ggl-fleetd. It prints
// the thing name and exits 0, or prints the error and exits 1.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"
)

// options are the command line.
type options struct {
	endpoint, ca, cert, key string
	clientID, template      string
	port                    int
}

func main() {
	var o options
	flag.StringVar(&o.endpoint, "endpoint", "localhost", "host name of the endpoint")
	flag.IntVar(&o.port, "port", 8883, "MQTT over TLS port")
	flag.StringVar(&o.ca, "ca", "", "root CA `file` of the endpoint")
	flag.StringVar(&o.cert, "cert", "", "claim certificate `file`")
	flag.StringVar(&o.key, "key", "", "claim key `file`")
	flag.StringVar(&o.clientID, "client-id", "", "MQTT client ID and SerialNumber parameter")
	flag.StringVar(&o.template, "template", "FleetTemplate", "provisioning template")
	flag.Parse()

	thing, err := run(o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bareclient: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(thing)
}

func run(o options) (string, error) {
	client, err := newBareClient(o)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return client.provision(ctx, o.clientID)
}
