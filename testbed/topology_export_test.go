package testbed

// SetUpFault makes Up call fault at each step ("namespaces", "links",
// "emulators", "done") and fail where it returns an error; nil clears it.
func SetUpFault(fault func(step string) error) { upFault = fault }
