/// The gateway: an OpenAI-compatible and SageMaker-runtime proxy that measures every request it
/// passes through and turns it into an `InferenceRecord` (issue 3). The server mounts its routes.
public enum Gateway {}
