package server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/sigv4"
	"github.com/econe/econe-server/xmlenc"
)

// protocol is how the requests of one AWS service served here are
// answered: the service a SigV4 scope must name, and its two envelopes.
// EC2 has a protocol of its own; STS and IAM speak AWS's query protocol
// (`<XResponse><XResult>…</XResult><ResponseMetadata>`, `<ErrorResponse>`),
// each in its own namespace.
type protocol struct {
	service   string // the SigV4 signing name
	namespace string // the query protocol's namespace; "" for EC2, whose namespace carries the client's version
}

var ec2Protocol = &protocol{service: "ec2"}

// protocols are the services of actions.Services(), by signing name.
var protocols = map[string]*protocol{
	"ec2": ec2Protocol,
	"sts": {service: "sts", namespace: "https://sts.amazonaws.com/doc/2011-06-15/"},
	"iam": {service: "iam", namespace: "https://iam.amazonaws.com/doc/2010-05-08/"},
}

// actionProtocols maps each action of services (Action -> signing name)
// to its protocol. A service without one is a programming error.
func actionProtocols(services map[string]string) map[string]*protocol {
	out := make(map[string]*protocol, len(services))
	for action, service := range services {
		p, ok := protocols[service]
		if !ok {
			panic(fmt.Sprintf("server: action %s belongs to service %q, which has no protocol", action, service))
		}
		out[action] = p
	}
	return out
}

// scopeProtocol is the protocol of an action the server does not know: the
// one of the service the client signed for, so that `aws sts unknown`
// gets STS's InvalidAction; EC2's for any other service or SigV2.
func scopeProtocol(service string) *protocol {
	if p, ok := protocols[service]; ok {
		return p
	}
	return ec2Protocol
}

// success encodes resp as the action's success envelope.
func (p *protocol) success(b *encodeBuffer, action, version, id string, resp any) ([]byte, error) {
	if p.namespace == "" {
		return b.marshalSuccess(action, version, id, resp)
	}
	// action is a name from the table and id a UUID made here: neither
	// needs escaping.
	out := append(b.out[:0], xml.Header...)
	out = append(out, "<"+action+`Response xmlns="`+p.namespace+`">`...)
	out, err := xmlenc.Append(out, resp, xml.StartElement{Name: xml.Name{Local: action + "Result"}})
	if err == nil {
		out = append(out, "<ResponseMetadata><RequestId>"+id+"</RequestId></ResponseMetadata></"+action+"Response>"...)
	}
	b.out = out
	if err != nil {
		return nil, fmt.Errorf("marshal %s response: %w", action, err)
	}
	return out, nil
}

// failure is the error envelope for e and its HTTP status.
func (p *protocol) failure(e *ec2err.Error, id string) ([]byte, int) {
	status := e.Status()
	if p.namespace == "" {
		return marshalError(e, id), status
	}
	// The query services answer a request without credentials with 403,
	// where EC2 says 401.
	if e.Code == ec2err.MissingAuthenticationToken {
		status = http.StatusForbidden
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	out, _ := xml.Marshal(queryErrorResponse{
		XMLNS:     p.namespace,
		Error:     queryError{Type: kind, Code: e.Code, Message: e.Message},
		RequestID: id,
	})
	return append([]byte(xml.Header), out...), status
}

type queryErrorResponse struct {
	XMLName   xml.Name   `xml:"ErrorResponse"`
	XMLNS     string     `xml:"xmlns,attr"`
	Error     queryError `xml:"Error"`
	RequestID string     `xml:"RequestId"`
}

type queryError struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// authError maps a signature failure to the code the service answers
// with. The client gets sigv4's explanation (it may quote the string to
// sign, which helps a student fix a hand-written signer); the log gets only
// the kind, because that text can hold request parameters such as UserData.
func (p *protocol) authError(err error) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return err
	}
	code, prefix := p.authCode(se.Kind)
	msg := sentence(se.Msg)
	if prefix != "" {
		msg = prefix + " " + msg
	}
	return quietError{&ec2err.Error{Code: code, Message: msg, Detail: "sigv4: " + se.Kind.String()}}
}

// authCode is the code, and the sentence AWS puts before the explanation,
// for a kind of signature failure.
func (p *protocol) authCode(k sigv4.Kind) (code, prefix string) {
	switch k {
	case sigv4.KindMissing:
		if p.namespace != "" {
			return ec2err.MissingAuthenticationToken, "Request is missing Authentication Token."
		}
		return ec2err.MissingAuthenticationToken, "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."
	case sigv4.KindMalformed:
		return ec2err.IncompleteSignature, ""
	case sigv4.KindExpired:
		return ec2err.RequestExpired, ""
	}
	if p.namespace == "" {
		// EC2 answers a session token it cannot use with AuthFailure (401),
		// not the InvalidClientTokenId (403) of IAM and STS. A scope naming
		// another region or service is AuthFailure too.
		switch k {
		case sigv4.KindUnknownKey, sigv4.KindMismatch, sigv4.KindSecurityToken:
			return ec2err.AuthFailure, "AWS was not able to validate the provided access credentials."
		}
		return ec2err.AuthFailure, ""
	}
	// STS and IAM: a key they do not know (or a token) is
	// InvalidClientTokenId; any other failure, a scope naming another
	// service or region included, is SignatureDoesNotMatch.
	switch k {
	case sigv4.KindUnknownKey, sigv4.KindSecurityToken:
		return ec2err.InvalidClientTokenId, "The security token included in the request is invalid."
	}
	return ec2err.SignatureDoesNotMatch, ""
}
