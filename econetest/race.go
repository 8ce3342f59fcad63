package econetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
)

// LaunchRace has every student's clients launch at once and again (1 or
// 2 instances a call), clients[s] being student s's, each possibly at
// another endpoint (replica). It returns how many instances each student
// was given; a call may only succeed or be refused with
// InstanceLimitExceeded.
func LaunchRace(t testing.TB, image string, clients [][]*ec2.Client) []int {
	const attempts = 4
	launched := make([]int, len(clients))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s, own := range clients {
		for c, client := range own {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for a := range attempts {
					out, err := client.RunInstances(Context(t), &ec2.RunInstancesInput{
						ImageId: aws.String(image), MinCount: aws.Int32(1), MaxCount: aws.Int32(int32(1 + (c+a)%2)),
					})
					var api smithy.APIError
					switch {
					case err == nil:
						mu.Lock()
						launched[s] += len(out.Instances)
						mu.Unlock()
					case errors.As(err, &api) && api.ErrorCode() == "InstanceLimitExceeded":
					default:
						t.Errorf("student %d, client %d: got %v, want success or InstanceLimitExceeded", s, c, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	return launched
}
