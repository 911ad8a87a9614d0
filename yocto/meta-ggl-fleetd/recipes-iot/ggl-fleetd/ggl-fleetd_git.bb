SUMMARY = "Fleet provisioning by claim for AWS IoT Greengrass Lite"
DESCRIPTION = "ggl-fleetd gives the device its own AWS IoT thing and \
certificate on first boot, using a claim certificate shared by all devices, \
writes them into the Greengrass Lite configuration and restarts the \
Greengrass Lite services."
HOMEPAGE = "https://github.com/ggl-fleetd/ggl-fleetd"
SECTION = "net"

# NOTE: the repository has no LICENSE file yet, so the checksum points at the
# common Apache-2.0 text of OE-Core. Point it at the project's own file once
# there is one.
LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

GO_IMPORT = "github.com/ggl-fleetd/ggl-fleetd"
# NOTE: SRCREV is the commit this recipe was written against; pin a release
# tag's commit before building images.
SRC_URI = "git://${GO_IMPORT}.git;protocol=https;branch=main;destsuffix=${GO_SRCURI_DESTSUFFIX}"
SRCREV = "8d5b06e6cc8e7ecd19f4a52b6ff0b73b2c9c1cc4"
PV = "0.1+git"

# Styhead and later unpack into UNPACKDIR; scarthgap unpacks into WORKDIR.
# go.bbclass places the source at <basename of S>/src/${GO_IMPORT} below the
# unpack directory, so S must sit directly in it.
UNPACKDIR ??= "${WORKDIR}"
S = "${UNPACKDIR}/${BP}"

# Only the device daemon: the host tool and the fake endpoint stay out of
# the image.
GO_INSTALL = "${GO_IMPORT}/cmd/ggl-fleetd"

# go.mod says "go 1.24.0". NOTE: scarthgap and styhead ship an older Go;
# building there needs a layer that provides Go 1.24 or later (not verified
# here).
inherit go-mod systemd

# The pure Go resolver reads /etc/hosts and /etc/resolv.conf itself, so the
# unit can deny netlink sockets: glibc's getaddrinfo, which cgo would use for
# some nsswitch.conf setups, opens one.
GOBUILDFLAGS:append = " -tags netgo"
GO_EXTRA_LDFLAGS:append = " -X ${GO_IMPORT}/internal/command.version=${PV}"

# go-mod downloads the modules listed in go.sum from GOPROXY during
# do_compile. Trade-off: simple, and go.sum pins every module's hash, but the
# build needs network access and fails with BB_NO_NETWORK unless the module
# cache is in DL_DIR's mirror. The alternative is a vendor/ directory in the
# source (go build -mod=vendor, no network, a larger repository) or, on
# walnascar and later, the gomod:// fetcher, which puts every module into
# SRC_URI.
do_compile[network] = "1"

# The settings for the fleet provisioning configuration, set in local.conf
# either plain (AWS_REGION = "eu-west-1") or for this recipe only
# (AWS_REGION:pn-ggl-fleetd = "eu-west-1"). meta-aws documents them with
# :pn-greengrass-lite, which reaches only the greengrass-lite recipe; this
# recipe warns when it finds only that form.
AWS_REGION ??= ""
IOT_DATA_ENDPOINT ??= ""
IOT_CRED_ENDPOINT ??= ""
IOT_ROLE_ALIAS ??= ""
FLEET_PROVISIONING_TEMPLATE ??= ""
# Absolute paths on the build host of the claim certificate, its key and the
# root CA that signs the AWS IoT endpoint. Empty: no claim files in the image.
CLAIM_CERT_PATH ??= ""
CLAIM_KEY_PATH ??= ""
ROOT_CA_PATH ??= ""

# Where the files go on the device; these paths are also the ones meta-aws
# uses for the C fleet provisioning.
GGL_FLEETD_CERTS_DIR ?= "${sysconfdir}/greengrass/certs"

# The Greengrass Lite services that must not start before the device is
# provisioned: each gets the drop-in that skips it until the stamp exists.
# systemd 252 matches prefix drop-ins only at "-" in a unit name, and these
# names are separated by ".", so each unit needs its own drop-in directory.
GGL_FLEETD_GATED_UNITS ?= "\
    ggl.aws.greengrass.TokenExchangeService.service \
    ggl.core.gg-fleet-statusd.service \
    ggl.core.ggconfigd.service \
    ggl.core.ggdeploymentd.service \
    ggl.core.gghealthd.service \
    ggl.core.ggipcd.service \
    ggl.core.ggpubsubd.service \
    ggl.core.iotcored.service \
    ggl.core.tesd.service \
    "

GGL_FLEETD_SETTINGS = "AWS_REGION IOT_DATA_ENDPOINT IOT_CRED_ENDPOINT \
    IOT_ROLE_ALIAS FLEET_PROVISIONING_TEMPLATE CLAIM_CERT_PATH CLAIM_KEY_PATH \
    ROOT_CA_PATH"

python __anonymous() {
    for name in (d.getVar('GGL_FLEETD_SETTINGS') or '').split():
        value = d.getVar(name) or ''
        if any(c in value for c in '"\\\n'):
            bb.fatal('%s = %r is invalid: it must not contain a double quote, '
                     'a backslash or a newline, since it is written into a '
                     'YAML string' % (name, value))
        if not value and d.getVar(name + ':pn-greengrass-lite'):
            bb.warn('%s is set only as %s:pn-greengrass-lite, which this recipe '
                    'does not see; set %s or %s:pn-ggl-fleetd as well'
                    % (name, name, name, name))

    for name in ('CLAIM_CERT_PATH', 'CLAIM_KEY_PATH', 'ROOT_CA_PATH'):
        value = d.getVar(name) or ''
        if value and not os.path.isabs(value):
            bb.fatal('%s = %r is invalid: it must be an absolute path on the '
                     'build host' % (name, value))
}

# Rebuild when the content of a claim file changes, not only its path.
do_install[file-checksums] += "${@' '.join('%s:True' % p for p in \
    (d.getVar('CLAIM_CERT_PATH'), d.getVar('CLAIM_KEY_PATH'), \
     d.getVar('ROOT_CA_PATH')) if p)}"

GGL_FLEETD_SRC = "${S}/src/${GO_IMPORT}"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${GGL_FLEETD_SRC}/systemd/ggl.gg_fleetprovisioning.service \
        ${D}${systemd_system_unitdir}/
    for unit in ${GGL_FLEETD_GATED_UNITS}; do
        install -d ${D}${systemd_system_unitdir}/$unit.d
        install -m 0644 ${GGL_FLEETD_SRC}/systemd/ggl-fleetd-provisioned.conf \
            ${D}${systemd_system_unitdir}/$unit.d/50-ggl-fleetd-provisioned.conf
    done

    install -d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${GGL_FLEETD_SRC}/systemd/ggl-fleetd.tmpfiles \
        ${D}${nonarch_libdir}/tmpfiles.d/ggl-fleetd.conf

    ggl_fleetd_install_config
    ggl_fleetd_install_claim
}

# Writes the fleet provisioning configuration in the shape that the
# meta-aws greengrass-lite recipe generates; "<unique>" is replaced by the
# device ID at run time.
ggl_fleetd_install_config() {
    install -d -m 0755 ${D}${sysconfdir}/greengrass/config.d
    cat > ${D}${sysconfdir}/greengrass/config.d/fleetprovisioning.yaml <<EOF
---
system:
  thingName: ""
  privateKeyPath: ""
  certificateFilePath: ""
services:
  aws.greengrass.NucleusLite:
    configuration:
      awsRegion: "${AWS_REGION}"
      iotRoleAlias: "${IOT_ROLE_ALIAS}"
      iotDataEndpoint: ""
      iotCredEndpoint: ""
  aws.greengrass.fleet_provisioning:
    configuration:
      iotDataEndpoint: "${IOT_DATA_ENDPOINT}"
      iotCredEndpoint: "${IOT_CRED_ENDPOINT}"
      claimCertPath: "${GGL_FLEETD_CERTS_DIR}/claim.cert.pem"
      claimKeyPath: "${GGL_FLEETD_CERTS_DIR}/claim.key.pem"
      rootCaPath: "${GGL_FLEETD_CERTS_DIR}/AmazonRootCA1.pem"
      templateName: "${FLEET_PROVISIONING_TEMPLATE}"
      templateParams:
        SerialNumber: "<unique>"
EOF
    chmod 0644 ${D}${sysconfdir}/greengrass/config.d/fleetprovisioning.yaml
}

# Installs the claim files owned by root: ggl-fleetd runs as root and reads
# them through the owner permission bits, and nothing else needs them.
ggl_fleetd_install_claim() {
    if [ -z "${CLAIM_CERT_PATH}" ]; then
        bbwarn "CLAIM_CERT_PATH is not set: the image has no claim certificate, and ggl-fleetd exits with status 78 until files are placed in ${GGL_FLEETD_CERTS_DIR}"
        return
    fi
    install -d -m 0755 ${D}${GGL_FLEETD_CERTS_DIR}
    install -m 0644 -o root -g root ${CLAIM_CERT_PATH} ${D}${GGL_FLEETD_CERTS_DIR}/claim.cert.pem
    install -m 0600 -o root -g root ${CLAIM_KEY_PATH} ${D}${GGL_FLEETD_CERTS_DIR}/claim.key.pem
    install -m 0644 -o root -g root ${ROOT_CA_PATH} ${D}${GGL_FLEETD_CERTS_DIR}/AmazonRootCA1.pem
}

SYSTEMD_SERVICE:${PN} = "ggl.gg_fleetprovisioning.service"
SYSTEMD_AUTO_ENABLE = "enable"

FILES:${PN} += "\
    ${systemd_system_unitdir} \
    ${nonarch_libdir}/tmpfiles.d/ggl-fleetd.conf \
    ${sysconfdir}/greengrass \
    "
# ggl-fleetd writes the device's thing name and paths into the Greengrass
# Lite configuration, so a package upgrade must not replace it.
CONFFILES:${PN} = "${sysconfdir}/greengrass/config.d/fleetprovisioning.yaml"

# greengrass-lite provides greengrass-lite.target and the units that the
# drop-ins extend, and creates the ggcore user and group that ggl-fleetd gives
# the key to and that the tmpfiles.d entry names. Depending on it at run time
# keeps one definition of that user instead of a second useradd here.
RDEPENDS:${PN} += "greengrass-lite"

REQUIRED_DISTRO_FEATURES = "systemd"
inherit features_check
