package store

// InstanceOptions are the settings a student chooses at launch and may
// change later (actions/instance_options.go). The zero value is EC2's
// defaults, so an instance recorded before these existed reads as launched
// with them.
type InstanceOptions struct {
	EbsOptimized   bool `json:"ebs_optimized,omitzero"`
	Monitoring     bool `json:"monitoring,omitzero"` // detailed monitoring
	Hibernation    bool `json:"hibernation,omitzero"`
	DisableAPIStop bool `json:"disable_api_stop,omitzero"`
	// NoSourceDestCheck is SourceDestCheck false (EC2's default is true).
	NoSourceDestCheck bool `json:"no_source_dest_check,omitzero"`
	// CPUCredits is standard or unlimited for a burstable type; "" is the
	// type's default.
	CPUCredits string          `json:"cpu_credits,omitempty"`
	Kernel     string          `json:"kernel,omitempty"`
	Ramdisk    string          `json:"ramdisk,omitempty"`
	Metadata   MetadataOptions `json:"metadata,omitzero"`
}

// MetadataOptions are the instance metadata service's settings; "" and 0
// are EC2's defaults (optional, 1, enabled, disabled, disabled).
type MetadataOptions struct {
	HTTPTokens   string `json:"http_tokens,omitempty"`
	HopLimit     int    `json:"hop_limit,omitzero"`
	HTTPEndpoint string `json:"http_endpoint,omitempty"`
	ProtocolIPv6 string `json:"protocol_ipv6,omitempty"`
	Tags         string `json:"tags,omitempty"`
}
