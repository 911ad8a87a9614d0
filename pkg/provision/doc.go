// Package provision obtains a device certificate from AWS IoT fleet
// provisioning by claim, over MQTT 5 with mutual TLS.
//
// Run connects with the claim certificate, has a CSR signed through
// CreateCertificateFromCsr (or takes a key pair from CreateKeysAndCertificate),
// registers the thing with RegisterThing, and proves the new certificate with one
// CONNECT before it returns. It retries with full-jitter backoff, separates
// transient faults from cloud-side rejections and from local configuration
// errors, and logs no private key, ownership token or certificate body.
package provision
