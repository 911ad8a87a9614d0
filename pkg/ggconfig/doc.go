// Package ggconfig reads the AWS IoT Greengrass Lite configuration that
// ggl-fleetd provisions from, and edits it after provisioning.
//
// # Files and merge rule
//
// Load reads config.yaml (by default /etc/greengrass/config.yaml) and then
// every *.yaml file in the config.d folder beside it, in lexical order of
// the file names, as ggconfigd does. Either part may be missing (the
// meta-aws recipes sometimes ship only config.d/fleetprovisioning.yaml), but
// not both. Each file holds one YAML document whose top level is a map.
//
// Later files override earlier ones key by key:
//   - a map merges with a map recursively, key by key;
//   - a single value or a list replaces the earlier value whole, and so does
//     a map that meets a single value or a list;
//   - an empty value ("key:", "~" or "null") leaves an earlier map in place
//     and replaces anything else; an empty value reads as unset.
//
// A key set twice in one map of one file is an error. Aliases are followed.
//
// # Settings
//
// Load reads the system block, the configuration of
// aws.greengrass.NucleusLite and the configuration of
// aws.greengrass.fleet_provisioning with Greengrass Lite's key names, plus
// the settings of ggl-fleetd in the same fleet provisioning block (see
// Fleet). Single values are read by their text whatever their quoting, so
// mqttPort: "8883" equals mqttPort: 8883; templateParams values written as
// numbers or booleans are kept as their text. Durations are Go durations
// ("30s", "5m") or whole seconds. Every value is checked where it is read,
// and each problem is an *Error naming the file, the line and the dotted key.
// Keys in the fleet provisioning block that nothing reads are listed in
// Config.Unknown, so that a misspelled key shows up in the log.
//
// # Edits
//
// Plan computes new file contents for a set of key values without writing:
// each key changes in every file that sets it, by replacing only the bytes
// of its value in the text, so comments, key order, quoting, indentation and
// document markers stay as they were. Keys that no file sets go into a
// drop-in file. Plan checks the merged result before it returns, and Apply
// writes the files through a function the caller passes, such as an atomic
// writer.
package ggconfig
