package templates

// The built-in catalog: common current types, the old m1 family the legacy
// hadoop-ec2 scripts ask for, and images including the two AMIs recorded
// in ../shared/compat traces (ami-12c6146b, ami-ec48af85), so those runs
// replay unmodified.
var builtinTypes = []InstanceType{
	{Name: "t2.micro", VCPUs: 1, MemoryMiB: 1024, PricePerHour: 0.0116, FreeTier: true},
	{Name: "t2.small", VCPUs: 1, MemoryMiB: 2048, PricePerHour: 0.023},
	{Name: "t2.medium", VCPUs: 2, MemoryMiB: 4096, PricePerHour: 0.0464},
	{Name: "t3.micro", VCPUs: 2, MemoryMiB: 1024, PricePerHour: 0.0104, FreeTier: true},
	{Name: "t3.small", VCPUs: 2, MemoryMiB: 2048, PricePerHour: 0.0208},
	{Name: "t3.medium", VCPUs: 2, MemoryMiB: 4096, PricePerHour: 0.0416},
	{Name: "t3.large", VCPUs: 2, MemoryMiB: 8192, PricePerHour: 0.0832},
	{Name: "m1.small", VCPUs: 1, MemoryMiB: 1740, PricePerHour: 0.044, Default: true},
	{Name: "m1.medium", VCPUs: 1, MemoryMiB: 3840, PricePerHour: 0.087},
	{Name: "m1.large", VCPUs: 2, MemoryMiB: 7680, PricePerHour: 0.175},
	{Name: "m1.xlarge", VCPUs: 4, MemoryMiB: 15360, PricePerHour: 0.35},
	{Name: "m5.large", VCPUs: 2, MemoryMiB: 8192, PricePerHour: 0.096},
	{Name: "c5.large", VCPUs: 2, MemoryMiB: 4096, PricePerHour: 0.085},
	{Name: "c5.xlarge", VCPUs: 4, MemoryMiB: 8192, PricePerHour: 0.17},
	{Name: "t4g.micro", VCPUs: 2, MemoryMiB: 1024, Architecture: "arm64", PricePerHour: 0.0084},
}

var builtinImages = []Image{
	{ID: "ami-0a1b2c3d4e5f60001", Name: "debian-12", Description: "Debian 12 (bookworm) amd64"},
	{ID: "ami-0a1b2c3d4e5f60002", Name: "ubuntu-22.04", Description: "Ubuntu 22.04 LTS (jammy) amd64"},
	{ID: "ami-0a1b2c3d4e5f60003", Name: "debian-12-arm64", Description: "Debian 12 (bookworm) arm64", Architecture: "arm64"},
	{ID: "ami-12c6146b", Name: "hadoop-ec2-0.20", Description: "Hadoop cluster image for the hadoop-ec2 scripts", RootDeviceName: "/dev/sda1", RootDeviceType: "instance-store"},
	{ID: "ami-ec48af85", Name: "ubuntu-10.04-ebs", Description: "Ubuntu 10.04 EBS image (hadoop-ec2 storage commands)", RootDeviceName: "/dev/sda1"},
}
