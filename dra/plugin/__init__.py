"""The kubelet plugin: the part of the driver that runs on each GPU node.

Module map (each file one job; data flows top to bottom):

* ``driver``        wires everything: inventory -> slices -> publish -> serve; lifecycle
* ``server``        the gRPC servers on unix sockets (``sockets`` has paths and modes)
* ``registration``  pluginregistration.Registration (GetInfo, NotifyRegistrationStatus)
* ``service``       DRAPlugin v1 / v1beta1 -> ``state``
* ``state``         prepare / unprepare of claims, with ``checkpoint`` behind it
* ``effects``       what preparing does to the devices (MIG, sharing, CDI), and its undo
* ``claims``        fetch and check a ResourceClaim; ``plan`` works out what to do (no effects)
* ``config``        opaque GpuConfig / MigDeviceConfig: strict decoding, precedence
* ``devices``       the catalog of published devices; ``edits`` container edits; ``cdi`` spec files
* ``driverfiles``   the host driver's libraries/binaries/firmware/hooks for CDI, from the driver root
* ``metadata``      KEP-5304 device metadata files for containers
* ``backend``       the hardware seam; ``builtin_backend`` (no GPU) and ``nvml_backend``
* ``mps``, ``drivertools``  MPS control daemons on the host; running the driver root's tools
* ``coexistence``   refuse to serve GPUs a device plugin also serves
* ``recovery``      startup reconciliation (rollback, reboot, corrupt checkpoint)
* ``nodelock``      node-wide lock shared by rolling-update instances
* ``health``        NVML events -> device taints, DRAResourceHealth stream
* ``metrics``, ``httpd``, ``logs``  observability
* ``kubelet_standin``  the kubelet's side of the protocol, for tests and benchmarks
* ``protos``        the .proto files and their generated modules
"""
