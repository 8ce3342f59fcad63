package actions

import (
	"cmp"
	"sort"

	"github.com/econe/econe-server/ec2err"
)

// DescribeInstanceTypeOfferings: every type of the templates the student
// may launch is offered in the region and in each of its zones.
var instanceTypeOfferingActions = map[string]Handler{
	"DescribeInstanceTypeOfferings": (*Service).describeInstanceTypeOfferings,
}

type instanceTypeOfferingXML struct {
	InstanceType string `xml:"instanceType"`
	LocationType string `xml:"locationType"`
	Location     string `xml:"location"`
}

type describeInstanceTypeOfferingsResponse struct {
	Meta
	Offerings []instanceTypeOfferingXML `xml:"instanceTypeOfferingSet>item"`
	NextToken string                    `xml:"nextToken,omitempty"`
}

func (o instanceTypeOfferingXML) attrs(name string) ([]string, bool) {
	switch name {
	case "instance-type":
		return []string{o.InstanceType}, true
	case "location":
		return []string{o.Location}, true
	}
	return nil, false
}

// locations are the places of one LocationType (region by default).
func (s *Service) locations(locationType string) ([]string, error) {
	switch locationType {
	case "", "region":
		return []string{s.Config.Region}, nil
	case "availability-zone", "availability-zone-id":
		var out []string
		for _, z := range s.zones() {
			out = append(out, map[bool]string{true: z.ZoneID, false: z.ZoneName}[locationType == "availability-zone-id"])
		}
		return out, nil
	case "outpost":
		return nil, nil // no outposts here
	}
	return nil, ec2err.BadValue("LocationType", locationType, "It must be region, availability-zone, availability-zone-id or outpost.")
}

func (s *Service) describeInstanceTypeOfferings(r *Request) (any, error) {
	locationType := r.Params.String("LocationType")
	places, err := s.locations(locationType)
	if err != nil {
		return nil, err
	}
	filters, err := r.Params.Filters()
	if err != nil {
		return nil, err
	}
	if err := checkFilterNames(filters, instanceTypeOfferingXML{}.attrs); err != nil {
		return nil, err
	}
	if err := r.DryRun(); err != nil {
		return nil, err
	}
	lim, err := s.readLimits(r)
	if err != nil {
		return nil, err
	}
	var out []instanceTypeOfferingXML
	for _, t := range s.catalog().InstanceTypes() {
		if !lim.AllowsType(t.Name) {
			continue
		}
		for _, place := range places {
			o := instanceTypeOfferingXML{InstanceType: t.Name, LocationType: cmp.Or(locationType, "region"), Location: place}
			if matchFilters(filters, o.attrs) {
				out = append(out, o)
			}
		}
	}
	key := func(i int) string { return out[i].InstanceType + " " + out[i].Location }
	sort.Slice(out, func(i, j int) bool { return key(i) < key(j) })
	page, err := paginate(len(out), key, r.Params, 5, 1000)
	if err != nil {
		return nil, err
	}
	return &describeInstanceTypeOfferingsResponse{Offerings: out[page.Start:page.End], NextToken: page.NextToken}, nil
}
