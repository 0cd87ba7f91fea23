//go:build errorhint

// 1.37 and newer: the allocator passes CEL runtime errors through cel.EnhanceRuntimeError.

package main

import dracel "k8s.io/dynamic-resource-allocation/cel"

func enhance(err error) error { return dracel.EnhanceRuntimeError(err) }
