//go:build !dra_v1_34

package main

import (
	"errors"

	"k8s.io/dynamic-resource-allocation/structured"
)

// Set per minor with -ldflags "-X main.minorVersion=1.3x".
var minorVersion = "unknown"

// enableVariant restricts NewAllocator to one variant (testing hook of upstream);
// "" keeps all, which is what kube-scheduler does.
func enableVariant(name string) error {
	if name == "" {
		structured.EnableAllocators()
	} else {
		structured.EnableAllocators(name)
	}
	return nil
}

func isNodeLocal(err error) bool { return errors.Is(err, structured.ErrFailedAllocationOnNode) }

var featureAliases = map[string][]string{}
