"""Protocol buffers spoken between the kubelet and this driver.

The ``.proto`` files here are this project's own transcription of the kubelet's published
APIs (package names, messages and field numbers must match upstream, since that is the wire
format). The ``*_pb2.py`` / ``*_pb2_grpc.py`` modules are generated from them by
``python -m dra.plugin.protos.generate`` (``make protos``) and committed, so that the runtime
needs only grpcio and protobuf, not grpcio-tools. A test regenerates them and checks that the
committed files are current.
"""
