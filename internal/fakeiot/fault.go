package fakeiot

import (
	"fmt"
	"sync"
	"time"
)

// Op is an operation that faults can be injected into.
type Op string

// Operations of the fleet provisioning API, and the MQTT CONNECT.
const (
	OpCreateFromCSR Op = "CreateCertificateFromCsr"
	OpCreateKeys    Op = "CreateKeysAndCertificate"
	OpRegister      Op = "RegisterThing"
	OpConnect       Op = "Connect"
)

type faultKind int

const (
	faultNone faultKind = iota
	faultDelay
	faultNoAnswer
	faultDisconnect
	faultReject
	faultMalformed
	faultOversized
	faultWrongKey
	faultThingName
	faultToken
	faultExpiredToken
)

// Fault is a misbehaviour applied to one request. Build it with Delay,
// NoAnswer, Disconnect, Reject, Malformed, Oversized, WrongKey, ThingName,
// Token or ExpiredToken. A fault that does not apply to the operation it is
// injected into (ThingName on a create request, for one) leaves the response
// unchanged.
type Fault struct {
	kind      faultKind
	delay     time.Duration
	status    int
	errorCode string
	message   string
	value     string
}

// String returns the fault's name for logs and test output.
func (f Fault) String() string {
	names := map[faultKind]string{
		faultNone: "none", faultDelay: "delay", faultNoAnswer: "no-answer",
		faultDisconnect: "disconnect", faultReject: "reject",
		faultMalformed: "malformed", faultOversized: "oversized",
		faultWrongKey: "wrong-key", faultThingName: "thing-name",
		faultToken: "token", faultExpiredToken: "expired-token",
	}
	if f.kind == faultDelay {
		return fmt.Sprintf("delay %s", f.delay)
	}
	return names[f.kind]
}

// Delay sends the normal response after d. On OpConnect it delays the CONNACK.
func Delay(d time.Duration) Fault { return Fault{kind: faultDelay, delay: d} }

// NoAnswer drops the request without a response. On OpConnect the CONNACK is
// never sent: the connection stays open until the client or Close ends it.
func NoAnswer() Fault { return Fault{kind: faultNoAnswer} }

// Disconnect closes the requester's network connection without a response
// or an MQTT DISCONNECT, as a broken network does.
func Disconnect() Fault { return Fault{kind: faultDisconnect} }

// Reject responds on the rejected topic with the given status code, error code
// and message. On OpConnect the CONNACK carries status as its reason code
// (0x80 to 0xFF; for example 0x88 Server unavailable).
func Reject(status int, errorCode, message string) Fault {
	return Fault{
		kind: faultReject, status: status, errorCode: errorCode, message: message,
	}
}

// Malformed responds on the accepted topic with a payload that is not valid
// JSON.
func Malformed() Fault { return Fault{kind: faultMalformed} }

// Oversized responds on the accepted topic with a valid JSON payload of 1 MiB,
// well above the 128 KB that AWS IoT allows for a message. As MQTT 5
// requires, the broker does not send it to a client whose CONNECT set a
// smaller Maximum Packet Size. Such a client gets no response.
func Oversized() Fault { return Fault{kind: faultOversized} }

// WrongKey makes a create request return a valid certificate for a key other
// than the one in the CSR (or, for CreateKeysAndCertificate, other than the
// returned private key).
func WrongKey() Fault { return Fault{kind: faultWrongKey} }

// ThingName makes an accepted RegisterThing response carry name as thingName
// ("" or an invalid name such as "bad/name"). The registration itself is
// recorded under the real name.
func ThingName(name string) Fault { return Fault{kind: faultThingName, value: name} }

// Token makes an accepted create response carry token as
// certificateOwnershipToken (for example ""). The real token is not sent.
func Token(token string) Fault { return Fault{kind: faultToken, value: token} }

// ExpiredToken makes a create request issue an ownership token that has
// already expired, so the RegisterThing that uses it is rejected.
func ExpiredToken() Fault { return Fault{kind: faultExpiredToken} }

// faultQueue holds the faults waiting for the next requests of each operation.
type faultQueue struct {
	mu     sync.Mutex
	queued map[Op][]Fault
}

func (q *faultQueue) push(op Op, f Fault) {
	q.mu.Lock()
	defer q.mu.Unlock()

	if q.queued == nil {
		q.queued = make(map[Op][]Fault)
	}
	q.queued[op] = append(q.queued[op], f)
}

// pop removes and returns the next fault for op, or a fault of kind
// faultNone when none is queued.
func (q *faultQueue) pop(op Op) Fault {
	q.mu.Lock()
	defer q.mu.Unlock()

	faults := q.queued[op]
	if len(faults) == 0 {
		return Fault{}
	}
	q.queued[op] = faults[1:]
	return faults[0]
}
