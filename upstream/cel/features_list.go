//go:build listattrs

// 1.36 and newer: cel.Features has EnableListTypeAttributes.

package main

import dracel "k8s.io/dynamic-resource-allocation/cel"

func compilerFeatures(f features) dracel.Features {
	return dracel.Features{EnableConsumableCapacity: f.ConsumableCapacity, EnableListTypeAttributes: f.ListTypeAttributes}
}
