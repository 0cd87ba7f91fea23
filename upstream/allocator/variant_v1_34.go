//go:build dra_v1_34

package main

import "fmt"

var minorVersion = "1.34"

// 1.34 has no EnableAllocators: NewAllocator always picks the first variant that
// supports the features. Asking for another one is refused rather than ignored.
func enableVariant(name string) error {
	if name != "" {
		return fmt.Errorf("variant selection is not available in 1.34")
	}
	return nil
}

// 1.34 has no ErrFailedAllocationOnNode: every error is fatal for the pod.
func isNodeLocal(err error) bool { return false }

// 1.34 names the two halves of DeviceBindingAndStatus separately.
var featureAliases = map[string][]string{"DeviceBindingAndStatus": {"DeviceBinding", "DeviceStatus"}}
