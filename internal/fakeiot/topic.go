package fakeiot

import "strings"

// Topic prefixes of the fleet provisioning API. A request topic ends in the
// payload format ("json" or "cbor"); its responses add "/accepted" or
// "/rejected".
const (
	createFromCSRPrefix = "$aws/certificates/create-from-csr/"
	createKeysPrefix    = "$aws/certificates/create/"
	templatesPrefix     = "$aws/provisioning-templates/"
	provisionSuffix     = "/provision/"
)

var formats = []string{"json", "cbor"}

// request is one fleet provisioning request read from a request topic.
type request struct {
	op       Op
	topic    string
	format   string
	template string
	payload  []byte
}

func (r request) acceptedTopic() string { return r.topic + "/accepted" }
func (r request) rejectedTopic() string { return r.topic + "/rejected" }

// parseRequestTopic returns the request that topic carries, and false when
// topic is not a request topic of the fleet provisioning API.
func parseRequestTopic(topic string) (request, bool) {
	req := request{topic: topic}
	switch {
	case strings.HasPrefix(topic, createFromCSRPrefix):
		req.op = OpCreateFromCSR
		req.format = strings.TrimPrefix(topic, createFromCSRPrefix)
	case strings.HasPrefix(topic, createKeysPrefix):
		req.op = OpCreateKeys
		req.format = strings.TrimPrefix(topic, createKeysPrefix)
	case strings.HasPrefix(topic, templatesPrefix):
		rest := strings.TrimPrefix(topic, templatesPrefix)
		template, format, ok := strings.Cut(rest, provisionSuffix)
		if !ok || !validTemplateName(template) {
			return request{}, false
		}
		req.op = OpRegister
		req.template = template
		req.format = format
	default:
		return request{}, false
	}

	if req.format != "json" && req.format != "cbor" {
		return request{}, false
	}
	return req, true
}

// requestTopics returns every request topic for template in both formats.
func requestTopics(template string) []string {
	var topics []string
	for _, format := range formats {
		topics = append(topics,
			createFromCSRPrefix+format,
			createKeysPrefix+format,
			templatesPrefix+template+provisionSuffix+format)
	}
	return topics
}

// matchFilter reports whether the MQTT topic filter matches topic. As MQTT
// requires, a wildcard in the first level does not match a topic that starts
// with "$".
func matchFilter(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") &&
		(strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}

	filterLevels := strings.Split(filter, "/")
	topicLevels := strings.Split(topic, "/")
	for i, level := range filterLevels {
		if level == "#" {
			return true
		}
		if i >= len(topicLevels) {
			return false
		}
		if level != "+" && level != topicLevels[i] {
			return false
		}
	}
	return len(filterLevels) == len(topicLevels)
}

func validTemplateName(name string) bool {
	return matchesCharset(name, 36, "_-")
}

func validThingName(name string) bool {
	return matchesCharset(name, 128, ":_-")
}

// matchesCharset reports whether s has 1 to maxLen characters, each an ASCII
// letter, a digit or one of extra.
func matchesCharset(s string, maxLen int, extra string) bool {
	if len(s) == 0 || len(s) > maxLen {
		return false
	}
	for _, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && !strings.ContainsRune(extra, r) {
			return false
		}
	}
	return true
}
