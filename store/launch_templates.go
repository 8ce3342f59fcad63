package store

import (
	"fmt"
	"net/url"
	"time"
)

// LaunchTemplate is a student's launch template: its name, unique per
// owner, and which of its versions are the default and the latest. The
// versions are records of their own (LaunchTemplateVersion), keyed under
// the template's id so that one version is one read and the template's
// versions are one prefix scan.
type LaunchTemplate struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Name      string    `json:"name"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"` // the creator's IAM ARN
	// Default and Latest are the numbers of the default version and of
	// the newest one that exists ($Default, $Latest); Last is the highest
	// number ever given, since a deleted version's number is never reused.
	Default int64 `json:"default"`
	Latest  int64 `json:"latest"`
	Last    int64 `json:"last"`
	// Versions is how many versions exist now.
	Versions int `json:"versions"`
}

// LaunchTemplateVersion is one numbered version of a template. Data is the
// LaunchTemplateData as sent (LaunchTemplateData.X.Y=V, kept as X.Y -> V):
// every parameter EC2 knows is kept as given, whether or not econe renders
// or honours it, and a launch overlays it on its own parameters.
type LaunchTemplateVersion struct {
	Number      int64      `json:"number"`
	Description string     `json:"description,omitempty"`
	Created     time.Time  `json:"created"`
	CreatedBy   string     `json:"created_by"`
	Data        url.Values `json:"data"`
}

// versionKey orders a template's versions by number: 20 digits.
func versionKey(owner, templateID string, n int64) string {
	return versionPrefix(owner, templateID) + fmt.Sprintf("%020d", n)
}

func versionPrefix(owner, templateID string) string { return OwnedKey(owner, templateID) + "/" }

// GetLaunchTemplate loads one of the user's templates by id; nil when absent.
func GetLaunchTemplate(tx Tx, owner, id string) (*LaunchTemplate, error) {
	return GetOwned[LaunchTemplate](tx, BucketLaunchTemplates, owner, id)
}

// LaunchTemplateByName finds the user's template called name; nil when absent.
func LaunchTemplateByName(tx Tx, owner, name string) (*LaunchTemplate, error) {
	var found *LaunchTemplate
	err := ScanJSON(tx, BucketLaunchTemplates, OwnerPrefix(owner), func(_ string, lt *LaunchTemplate) error {
		if lt.Name != name {
			return nil
		}
		found = lt
		return ErrStop
	})
	return found, err
}

// ListLaunchTemplates returns the user's templates in id order.
func ListLaunchTemplates(tx Tx, owner string) ([]*LaunchTemplate, error) {
	return ListOwned[LaunchTemplate](tx, BucketLaunchTemplates, owner)
}

// PutLaunchTemplate stores a template's record.
func PutLaunchTemplate(tx Tx, lt *LaunchTemplate) error {
	return PutOwned(tx, BucketLaunchTemplates, lt.Owner, lt.ID, lt)
}

// DeleteLaunchTemplate removes a template, its versions and its tags.
func DeleteLaunchTemplate(tx Tx, owner, id string) error {
	if err := deletePrefix(tx, BucketLaunchTemplateVersions, versionPrefix(owner, id)); err != nil {
		return err
	}
	return DeleteOwned(tx, BucketLaunchTemplates, owner, id)
}

// GetLaunchTemplateVersion loads version n of a template; nil when absent.
func GetLaunchTemplateVersion(tx Tx, owner, templateID string, n int64) (*LaunchTemplateVersion, error) {
	v := new(LaunchTemplateVersion)
	found, err := GetJSON(tx, BucketLaunchTemplateVersions, versionKey(owner, templateID, n), v)
	if err != nil || !found {
		return nil, err
	}
	return v, nil
}

// ListLaunchTemplateVersions returns a template's versions by number.
func ListLaunchTemplateVersions(tx Tx, owner, templateID string) ([]*LaunchTemplateVersion, error) {
	var out []*LaunchTemplateVersion
	err := ScanJSON(tx, BucketLaunchTemplateVersions, versionPrefix(owner, templateID), func(_ string, v *LaunchTemplateVersion) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

// PutLaunchTemplateVersion stores a version of a template.
func PutLaunchTemplateVersion(tx Tx, owner, templateID string, v *LaunchTemplateVersion) error {
	return PutJSON(tx, BucketLaunchTemplateVersions, versionKey(owner, templateID, v.Number), v)
}

// DeleteLaunchTemplateVersion removes version n of a template.
func DeleteLaunchTemplateVersion(tx Tx, owner, templateID string, n int64) error {
	return tx.Delete(BucketLaunchTemplateVersions, versionKey(owner, templateID, n))
}
