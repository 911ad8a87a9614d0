package deps
import (
 _ "github.com/eclipse/paho.golang/paho"
 _ "github.com/eclipse/paho.golang/autopaho"
 _ "github.com/coreos/go-systemd/v22/daemon"
 _ "github.com/coreos/go-systemd/v22/dbus"
 _ "github.com/coreos/go-systemd/v22/journal"
 _ "github.com/godbus/dbus/v5"
 _ "go.uber.org/zap"
 _ "gopkg.in/yaml.v3"
 _ "github.com/mochi-mqtt/server/v2"
 _ "github.com/aws/aws-sdk-go-v2/config"
 _ "github.com/aws/aws-sdk-go-v2/service/cloudformation"
 _ "github.com/aws/aws-sdk-go-v2/service/iot"
 _ "github.com/cenkalti/backoff/v5"
 _ "github.com/google/go-cmp/cmp"
)
