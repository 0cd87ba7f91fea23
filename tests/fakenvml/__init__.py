"""A fake NVIDIA driver for tests: ``fake_nvml.c`` (libnvidia-ml.so.1) and ``fakeroot`` (a
driver root laid out like a real one). See ``fakeroot`` for what is simulated."""
