package main

// testbedCommand runs `polylink testbed …`.
func testbedCommand(args []string) error {
	return usagef("testbed: not built yet")
}
