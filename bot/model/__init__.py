"""The embedding model: loading it (encoder), its ONNX copy for questions, and offline provisioning."""
