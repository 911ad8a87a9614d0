# ggl-fleetd replaces the C fleet provisioning of Greengrass Lite. With both,
# two packages would ship /lib/systemd/system/ggl.gg_fleetprovisioning.service
# and /etc/greengrass/config.d/fleetprovisioning.yaml, and two programs would
# register the device. ":remove" is applied after every "+=" and ":append",
# so this wins over PACKAGECONFIG:append:pn-greengrass-lite = " fleetprovisioning"
# in local.conf.
# NOTE: checked against the greengrass-lite 2.6.0 recipe of meta-aws, where
# PACKAGECONFIG[fleetprovisioning] adds the C unit, its drop-ins, the
# configuration file and the claim files; not built here.
PACKAGECONFIG:remove = "fleetprovisioning"
