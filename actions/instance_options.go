package actions

import (
	"cmp"
	"strconv"
	"strings"

	"github.com/econe/econe-server/backend"
	"github.com/econe/econe-server/ec2err"
	"github.com/econe/econe-server/query"
	"github.com/econe/econe-server/store"
	"github.com/econe/econe-server/templates"
)

// An instance's options (store.InstanceOptions): chosen at RunInstances,
// shown by DescribeInstances and DescribeInstanceAttribute, changed by
// ModifyInstanceAttribute and the actions here. Those the cloud enforces
// reach the backend first (applySettings).
var instanceOptionActions = map[string]Handler{
	"DescribeInstanceCreditSpecifications": (*Service).describeInstanceCreditSpecifications,
	"ModifyInstanceCreditSpecification":    (*Service).modifyInstanceCreditSpecification,
	"ModifyInstanceMetadataOptions":        (*Service).modifyInstanceMetadataOptions,
	"MonitorInstances":                     (*Service).monitorInstances,
	"UnmonitorInstances":                   (*Service).unmonitorInstances,
}

// ---- launch ----

// launchOptions decodes RunInstances' options for an instance of type t.
func (s *Service) launchOptions(p *query.Params, t templates.InstanceType) (store.InstanceOptions, error) {
	var o store.InstanceOptions
	var err error
	for _, b := range []struct {
		param string
		to    *bool
	}{
		{"EbsOptimized", &o.EbsOptimized}, {"Monitoring.Enabled", &o.Monitoring},
		{"HibernationOptions.Configured", &o.Hibernation}, {"DisableApiStop", &o.DisableAPIStop},
	} {
		if *b.to, err = p.Bool(b.param, false); err != nil {
			return o, err
		}
	}
	if c := p.String("CreditSpecification.CpuCredits"); c != "" {
		if o.CPUCredits, err = cpuCredits("CreditSpecification.CpuCredits", c, t.Name); err != nil {
			return o, err
		}
	}
	if o.Metadata, err = metadataOptions(p.Struct("MetadataOptions"), store.MetadataOptions{}); err != nil {
		return o, err
	}
	o.Kernel, o.Ramdisk = p.String("KernelId"), p.String("RamdiskId")
	if s.Backend.Settings == nil && !cloudDefaults(o, t.Name) {
		return o, s.settingsRefused("launch options (EbsOptimized, Monitoring, MetadataOptions, CreditSpecification, …)")
	}
	return o, nil
}

// cloudDefaults reports whether o asks the cloud for nothing but EC2's
// defaults for the type (stop protection is econe-server's own).
func cloudDefaults(o store.InstanceOptions, itype string) bool {
	o.DisableAPIStop = false
	if _, def := burstable(itype); o.CPUCredits == def {
		o.CPUCredits = ""
	}
	if *metadataXML(o.Metadata, "") == *metadataXML(store.MetadataOptions{}, "") {
		o.Metadata = store.MetadataOptions{}
	}
	return o == store.InstanceOptions{}
}

// ---- CPU credits ----

// burstable reports whether an instance type earns CPU credits (T2, T3,
// T3a, T4g), and its default credit option.
func burstable(itype string) (ok bool, def string) {
	family, _, _ := strings.Cut(itype, ".")
	switch family {
	case "t2":
		return true, "standard"
	case "t3", "t3a", "t4g":
		return true, "unlimited"
	}
	return false, "standard"
}

// credits is the instance's credit option as EC2 reports it.
func credits(inst *store.Instance) string {
	if _, def := burstable(inst.InstanceType); inst.Options.CPUCredits == "" {
		return def
	}
	return inst.Options.CPUCredits
}

// cpuCredits checks a credit option for an instance type: standard or
// unlimited, and unlimited only for a burstable type.
func cpuCredits(param, v, itype string) (string, error) {
	if v != "standard" && v != "unlimited" {
		return "", ec2err.BadValue(param, v, "It must be standard or unlimited.")
	}
	if ok, _ := burstable(itype); !ok && v == "unlimited" {
		return "", ec2err.New(ec2err.CreditsNotSupported, "The %s instance type does not support unlimited CPU credits; only burstable types (t2, t3, t3a, t4g) do.", itype)
	}
	return v, nil
}

type instanceCreditXML struct {
	InstanceID string `xml:"instanceId"`
	CPUCredits string `xml:"cpuCredits"`
}

type describeCreditsResponse struct {
	Meta
	Items     []instanceCreditXML `xml:"instanceCreditSpecificationSet>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

// describeInstanceCreditSpecifications lists the instances named (any
// type; a non-burstable one is standard), or without ids the burstable
// instances whose option is unlimited, as EC2 does.
func (s *Service) describeInstanceCreditSpecifications(r *Request) (any, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	attrs := func(x instanceCreditXML) Attrs {
		return func(name string) ([]string, bool) {
			if name == "instance-id" {
				return []string{x.InstanceID}, true
			}
			return nil, false
		}
	}
	filters, err := describeChecks(r, attrs(instanceCreditXML{}), ids, "The parameter instancesSet cannot be used with the parameter maxResults")
	if err != nil {
		return nil, err
	}
	insts, _, err := s.loadInstances(r, dedupe(ids))
	if err != nil {
		return nil, err
	}
	out, next, err := instancePage(r, insts, filters, func(inst *store.Instance) (instanceCreditXML, bool) {
		x := instanceCreditXML{InstanceID: inst.ID, CPUCredits: credits(inst)}
		ok, _ := burstable(inst.InstanceType)
		return x, len(ids) > 0 || (ok && x.CPUCredits == "unlimited" && inst.State != string(backend.Terminated))
	}, attrs)
	if err != nil {
		return nil, err
	}
	return &describeCreditsResponse{Items: out, NextToken: next}, nil
}

type creditSuccessXML struct {
	InstanceID string `xml:"instanceId"`
}

type creditFailureXML struct {
	InstanceID string         `xml:"instanceId"`
	Error      stateReasonXML `xml:"error"`
}

type modifyCreditsResponse struct {
	Meta
	Successful   []creditSuccessXML `xml:"successfulInstanceCreditSpecificationSet>item"`
	Unsuccessful []creditFailureXML `xml:"unsuccessfulInstanceCreditSpecificationSet>item"`
}

// modifyInstanceCreditSpecification changes each instance it can and
// reports the others one by one, as EC2 does.
func (s *Service) modifyInstanceCreditSpecification(r *Request) (any, error) {
	if s.Backend.Settings == nil {
		return nil, s.settingsRefused("CPU credits")
	}
	specs := r.Params.Structs("InstanceCreditSpecification")
	if len(specs) == 0 {
		return nil, ec2err.Missing("InstanceCreditSpecification")
	}
	for _, sp := range specs {
		if _, err := sp.Required("InstanceId"); err != nil {
			return nil, err
		}
		if c := sp.String("CpuCredits"); c != "standard" && c != "unlimited" {
			return nil, ec2err.BadValue("InstanceCreditSpecification.CpuCredits", c, "It must be standard or unlimited.")
		}
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	resp := &modifyCreditsResponse{}
	for _, sp := range specs {
		id, value := sp.String("InstanceId"), sp.String("CpuCredits")
		err := checkIDs([]string{id}, "i", ec2err.InvalidInstanceIDMalformed)
		var inst *store.Instance
		if err == nil {
			inst, err = s.currentInstance(r, id)
		}
		if err == nil {
			err = s.updateInstance(r, inst, "CPU credits", func(_ store.Tx, inst *store.Instance) error {
				c, err := cpuCredits("CpuCredits", value, inst.InstanceType)
				inst.Options.CPUCredits = c
				return err
			})
		}
		if err == nil {
			resp.Successful = append(resp.Successful, creditSuccessXML{id})
			continue
		}
		e, ok := err.(*ec2err.Error)
		if !ok {
			return nil, err
		}
		resp.Unsuccessful = append(resp.Unsuccessful, creditFailureXML{InstanceID: id, Error: stateReasonXML{Code: e.Code, Message: e.Message}})
	}
	return resp, nil
}

// ---- instance metadata options ----

// metadataOptions applies the MetadataOptions parameters p holds (HttpTokens,
// …) to cur, checked as EC2 checks them.
func metadataOptions(p *query.Params, cur store.MetadataOptions) (store.MetadataOptions, error) {
	enum := func(name string, to *string, valid ...string) error {
		v := p.String(name)
		switch {
		case !p.Has(name):
			return nil
		case !contains(valid, v):
			return ec2err.BadValue(name, v, "It must be "+strings.Join(valid, " or ")+".")
		}
		*to = v
		return nil
	}
	if err := enum("HttpTokens", &cur.HTTPTokens, "optional", "required"); err != nil {
		return cur, err
	}
	if err := enum("HttpEndpoint", &cur.HTTPEndpoint, "enabled", "disabled"); err != nil {
		return cur, err
	}
	if err := enum("HttpProtocolIpv6", &cur.ProtocolIPv6, "enabled", "disabled"); err != nil {
		return cur, err
	}
	if err := enum("InstanceMetadataTags", &cur.Tags, "enabled", "disabled"); err != nil {
		return cur, err
	}
	if hops, ok, err := p.OptionalInt("HttpPutResponseHopLimit"); err != nil {
		return cur, err
	} else if ok {
		if hops < 1 || hops > 64 {
			return cur, ec2err.BadValue("HttpPutResponseHopLimit", strconv.Itoa(hops), "It must be from 1 to 64.")
		}
		cur.HopLimit = hops
	}
	return cur, nil
}

// metadataOptionsXML is botocore's InstanceMetadataOptionsResponse.
type metadataOptionsXML struct {
	State        string `xml:"state"`
	HTTPTokens   string `xml:"httpTokens"`
	HopLimit     int    `xml:"httpPutResponseHopLimit"`
	HTTPEndpoint string `xml:"httpEndpoint"`
	ProtocolIPv6 string `xml:"httpProtocolIpv6"`
	Tags         string `xml:"instanceMetadataTags"`
}

func metadataXML(m store.MetadataOptions, state string) *metadataOptionsXML {
	x := &metadataOptionsXML{State: state, HTTPTokens: cmp.Or(m.HTTPTokens, "optional"), HopLimit: m.HopLimit,
		HTTPEndpoint: cmp.Or(m.HTTPEndpoint, "enabled"), ProtocolIPv6: cmp.Or(m.ProtocolIPv6, "disabled"),
		Tags: cmp.Or(m.Tags, "disabled")}
	if x.HopLimit == 0 {
		x.HopLimit = 1
	}
	return x
}

type modifyMetadataResponse struct {
	Meta
	InstanceID string              `xml:"instanceId"`
	Options    *metadataOptionsXML `xml:"instanceMetadataOptions"`
}

func (s *Service) modifyInstanceMetadataOptions(r *Request) (any, error) {
	if _, err := metadataOptions(r.Params, store.MetadataOptions{}); err != nil {
		return nil, err
	}
	inst, err := s.oneInstance(r)
	if err != nil {
		return nil, err
	}
	var applied store.MetadataOptions
	err = s.updateInstance(r, inst, "metadata options", func(_ store.Tx, inst *store.Instance) (err error) {
		inst.Options.Metadata, err = metadataOptions(r.Params, inst.Options.Metadata)
		applied = inst.Options.Metadata
		return err
	})
	if err != nil {
		return nil, err
	}
	// EC2 answers pending and applies the change a moment later; here it
	// is applied once recorded, so a describe shows applied.
	return &modifyMetadataResponse{InstanceID: inst.ID, Options: metadataXML(applied, "pending")}, nil
}

// ---- monitoring ----

type instanceMonitoringXML struct {
	InstanceID string        `xml:"instanceId"`
	Monitoring monitoringXML `xml:"monitoring"`
}

type monitorInstancesResponse struct {
	Meta
	Items []instanceMonitoringXML `xml:"instancesSet>item"`
}

func (s *Service) monitorInstances(r *Request) (any, error)   { return s.setMonitoring(r, true) }
func (s *Service) unmonitorInstances(r *Request) (any, error) { return s.setMonitoring(r, false) }

// setMonitoring turns detailed monitoring on or off; EC2 answers with the
// transitional state (pending, disabling).
func (s *Service) setMonitoring(r *Request, on bool) (any, error) {
	ids, err := instanceIDs(r.Params)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, ec2err.Missing("InstanceId.1")
	}
	insts, _, err := s.loadInstances(r, dedupe(ids))
	if err != nil {
		return nil, err
	}
	resp := &monitorInstancesResponse{}
	state := map[bool]string{true: "pending", false: "disabling"}[on]
	for _, inst := range insts {
		if err := s.updateInstance(r, inst, "monitoring", func(_ store.Tx, inst *store.Instance) error {
			inst.Options.Monitoring = on
			return nil
		}); err != nil {
			return nil, err
		}
		resp.Items = append(resp.Items, instanceMonitoringXML{InstanceID: inst.ID, Monitoring: monitoringXML{State: state}})
	}
	return resp, nil
}

// stopProtection refuses to stop an instance with DisableApiStop.
func stopProtection(inst *store.Instance) error {
	if inst.Options.DisableAPIStop {
		return ec2err.New(ec2err.OperationNotPermitted, "The instance '%s' may not be stopped. Modify its 'disableApiStop' instance attribute and try again.", inst.ID)
	}
	return nil
}

// ---- changing an instance ----

// updateInstance changes the caller's instance: change is checked on the
// instance as stored, in the transaction that records it. A change the
// cloud enforces (enforced names it) is first checked in a read
// transaction and applied in the cloud; such a change only reads through
// tx. A terminated instance changes no more.
func (s *Service) updateInstance(r *Request, inst *store.Instance, enforced string, change func(tx store.Tx, inst *store.Instance) error) error {
	check := func(tx store.Tx) (*store.Instance, error) {
		cur, err := s.reread(tx, inst)
		if err != nil {
			return nil, err
		}
		if st := backend.State(cur.State); st == backend.Terminated || st == backend.ShuttingDown {
			return nil, ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is %s; its attributes cannot change.", cur.ID, st)
		}
		return cur, change(tx, cur)
	}
	if enforced != "" {
		var changed *store.Instance
		err := s.Store.View(func(tx store.Tx) (err error) {
			changed, err = check(tx)
			return err
		})
		if err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		if err := s.applySettings(r, changed, enforced); err != nil {
			return err
		}
	}
	return s.Store.Update(func(tx store.Tx) error {
		cur, err := check(tx)
		if err != nil {
			return err
		}
		if err := r.DryRun(); err != nil {
			return err
		}
		return store.PutInstance(tx, cur)
	})
}

// applySettings gives the backend the instance's settings as changed;
// without the ability, the change is refused (naming what).
func (s *Service) applySettings(r *Request, inst *store.Instance, what string) error {
	if s.Backend.Settings == nil {
		return s.settingsRefused(what)
	}
	if inst.BackendID == "" {
		return ec2err.New(ec2err.IncorrectInstanceState, "The instance '%s' is still launching; change its %s once it is running.", inst.ID, what)
	}
	set := backend.MachineSettings{Options: inst.Options}
	for _, g := range inst.Groups {
		set.Groups = append(set.Groups, g.ID)
	}
	if err := s.Backend.Settings.ApplySettings(r.Context, inst.BackendID, set); err != nil {
		return backendError(err, refusals{}, inst)
	}
	return nil
}

func (s *Service) settingsRefused(what string) error {
	return ec2err.New(ec2err.UnsupportedOperation, "This cloud's backend (%s) cannot apply an instance's %s; only EC2's defaults are available here.", s.Config.Backend.Name, what)
}

// ---- shown in DescribeInstances ----

// optionFilter answers the DescribeInstances filters on the options.
func optionFilter(inst *store.Instance, name string) (string, bool) {
	x := instanceXML{}
	renderOptions(&x, inst, false)
	m := x.Metadata
	v, ok := map[string]string{
		"monitoring-state":                             x.Monitoring.State,
		"hibernation-options.configured":               strconv.FormatBool(x.Hibernation.Configured),
		"source-dest-check":                            strconv.FormatBool(*x.SourceDestCheck),
		"kernel-id":                                    x.KernelID,
		"ramdisk-id":                                   x.RamdiskID,
		"metadata-options.http-tokens":                 m.HTTPTokens,
		"metadata-options.http-put-response-hop-limit": strconv.Itoa(m.HopLimit),
		"metadata-options.http-endpoint":               m.HTTPEndpoint,
		"metadata-options.http-protocol-ipv6":          m.ProtocolIPv6,
		"metadata-options.instance-metadata-tags":      m.Tags,
	}[name]
	return v, ok
}

type hibernationXML struct {
	Configured bool `xml:"configured"`
}

type enclaveXML struct {
	Enabled bool `xml:"enabled"`
}

// renderOptions fills the instance item's options; the nested ones only
// for new API versions (old clients stop at nested elements they do not
// know).
func renderOptions(x *instanceXML, inst *store.Instance, old bool) {
	o := inst.Options
	x.EbsOptimized = o.EbsOptimized
	x.Monitoring = monitoringXML{State: "disabled"}
	if o.Monitoring {
		x.Monitoring.State = "enabled"
	}
	x.KernelID, x.RamdiskID = o.Kernel, o.Ramdisk
	if old {
		return
	}
	check := !o.NoSourceDestCheck
	x.SourceDestCheck = &check
	x.Hibernation = &hibernationXML{o.Hibernation}
	x.Metadata = metadataXML(o.Metadata, "applied")
	x.Enclave = &enclaveXML{}
}
