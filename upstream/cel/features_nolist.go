//go:build !listattrs

// 1.34 and 1.35: cel.Features has only EnableConsumableCapacity.

package main

import dracel "k8s.io/dynamic-resource-allocation/cel"

func compilerFeatures(f features) dracel.Features {
	return dracel.Features{EnableConsumableCapacity: f.ConsumableCapacity}
}
