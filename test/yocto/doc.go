// Package yoctotest checks the BitBake layer in yocto/meta-ggl-fleetd without
// BitBake: override syntax, the settings the recipe reads, the files it
// installs, and that the configuration it generates loads in ggl-fleetd.
package yoctotest
