// Package install puts a device's new private key, certificate and root CA on
// disk so that a crash at any point leaves Greengrass Lite with either its old
// working identity or the new complete one.
//
// # Order
//
// The key is written first (0600), then the certificate (0644), then the root
// CA (0644), each through package atomicfile. Unit files and scripts take an
// existing certificate file as the sign that provisioning is done (for
// example ConditionPathExists=!certificate.pem), so a certificate must never
// appear before the key that belongs to it.
//
// # Reprovisioning
//
// Greengrass Lite reads system.privateKeyPath and system.certificateFilePath.
// Renaming a new key and then a new certificate over the files those settings
// name would leave a mismatched pair if the process died between the two
// renames. So when a pair is in force at the configured paths, Prepare places
// the new pair under names unique to the new certificate and never touches
// the old files. The unique names carry the first 12 hex digits of the
// certificate's SHA-256, such as priv_key.1a2b3c4d5e6f and
// certificate.1a2b3c4d5e6f.pem.
// The caller then switches both settings in one atomic write of the
// configuration: that write is the commit point. Cleanup removes the old
// pair only after the stamp is written. When no pair is in force, the new
// pair goes to the configured paths directly.
//
// Every crash point then leaves a usable identity:
//
//   - before or while writing the new key or certificate: the configuration
//     still names the old pair, which is untouched;
//   - after the certificate and before the configuration switch: the same,
//     and the new files are leftovers that a later Cleanup removes;
//   - after the switch and before the stamp: the new pair is complete and in
//     force, and the next run provisions again without touching it;
//   - during Cleanup: the certificate is removed before its key, so no
//     certificate is left without its key.
//
// The root CA is replaced in place, because it does not pair with any other
// file and the new one has just verified the endpoint.
//
// # Ownership and directories
//
// Files belong to the Greengrass Lite user and group (ggcore by default) when
// those exist, and to root otherwise. Directories created here belong to the
// running user (root for the daemon) and the Greengrass Lite group, with mode
// 0755, or 0750 for the one that holds the key. The daemon runs without
// CAP_DAC_OVERRIDE, so it could not write into a folder it gave to ggcore.
// Existing directories are checked to be no more permissive than needed,
// never for an exact mode.
package install
