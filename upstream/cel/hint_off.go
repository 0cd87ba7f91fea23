//go:build !errorhint

// Before 1.37 the allocator reports CEL runtime errors as cel-go returns them.

package main

func enhance(err error) error { return err }
