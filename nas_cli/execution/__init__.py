"""Where trials run: the backend interface and its implementations.

| platform  | backend          | what                                                 |
|-----------|------------------|------------------------------------------------------|
| local     | LocalBackend     | warm worker processes on this machine                |
| ray       | RayBackend       | warm Ray actors, on a private local Ray or a cluster |
| simulated | SimulatedBackend | a table replayed by N workers on a virtual clock     |

`local_backend(spec)`, `ray_backend(spec)` and `simulated_backend(spec)` build them from a
spec's `trial_concurrency`, `trial_gpu_number` and `training_service`. Local CPU workers are
forked from a fork server that imported torch once: `start_server_for_spec(path)` starts it
before the spec is even checked, `stop_server()` ends it (`nas run` does both).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nas_cli._lazy import lazy_getattr

if TYPE_CHECKING:  # what type checkers and the API docs read; at run time, see _LAZY
    from nas_cli.execution._base import Backend, Event, Finished, Intermediate
    from nas_cli.execution._gpu import GpuSlots
    from nas_cli.execution._local import LocalBackend
    from nas_cli.execution._payload import dump_payload
    from nas_cli.execution._ray import RayBackend
    from nas_cli.execution._server import start_server_for_spec, stop_server
    from nas_cli.execution._simulated import SimulatedBackend
    from nas_cli.execution._trial import TrialPayload, execute, short_error
    from nas_cli.spec import ExperimentSpec
    from nas_cli.trials import TrialOutcome

# Names imported on first use: `nas run` starts the workers' fork server (`_server`) before
# anything else, and importing this package must not delay it.
_LAZY = {
    "Backend": "nas_cli.execution._base",
    "Event": "nas_cli.execution._base",
    "Finished": "nas_cli.execution._base",
    "Intermediate": "nas_cli.execution._base",
    "GpuSlots": "nas_cli.execution._gpu",
    "LocalBackend": "nas_cli.execution._local",
    "dump_payload": "nas_cli.execution._payload",
    "RayBackend": "nas_cli.execution._ray",
    "SimulatedBackend": "nas_cli.execution._simulated",
    "start_server_for_spec": "nas_cli.execution._server",
    "stop_server": "nas_cli.execution._server",
    "TrialPayload": "nas_cli.execution._trial",
    "execute": "nas_cli.execution._trial",
    "short_error": "nas_cli.execution._trial",
    "TrialOutcome": "nas_cli.trials",
}
__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = ["Backend", "Event", "Finished", "GpuSlots", "Intermediate", "LocalBackend",
           "RayBackend", "SimulatedBackend", "TrialOutcome", "TrialPayload", "dump_payload", "execute",
           "local_backend", "ray_backend", "short_error", "simulated_backend",
           "start_server_for_spec", "stop_server"]


def local_backend(spec: ExperimentSpec) -> LocalBackend:
    """The local pool for a spec; with `trial_gpu_number > 0`, each trial gets its own GPUs."""
    from nas_cli.execution._gpu import GpuSlots, trial_gpus
    from nas_cli.execution._local import LocalBackend
    from nas_cli.execution._server import warm_imports

    service = spec.training_service
    threads = max(1, int(service.cpus_per_trial)) if service.cpus_per_trial else None
    slots = None
    if spec.trial_gpu_number > 0:
        ids = trial_gpus(spec.trial_gpu_number, service.gpu_indices, service.use_active_gpu)
        slots = GpuSlots(ids, spec.trial_gpu_number, service.max_trial_number_per_gpu)
    return LocalBackend(spec.trial_concurrency, threads=threads, gpus=slots,
                        warm_imports=warm_imports(spec.evaluator.type))


def ray_backend(spec: ExperimentSpec) -> RayBackend:
    """The Ray backend for a spec; refuses at once when Ray is not installed."""
    from nas_cli.errors import SpecError
    from nas_cli.execution._gpu import trial_gpus
    from nas_cli.execution._ray import RayBackend, ray_gpus_per_trial

    try:
        import ray  # noqa: F401
    except ImportError:
        raise SpecError("training_service.platform ray needs ray: "
                        "pip install 'nas-cli[ray]'") from None
    service = spec.training_service
    local_gpus: list[str] = []
    if service.address is None and spec.trial_gpu_number > 0:  # a private Ray on this machine
        local_gpus = trial_gpus(spec.trial_gpu_number, service.gpu_indices,
                                service.use_active_gpu)
    return RayBackend(
        spec.trial_concurrency, address=service.address,
        cpus_per_trial=service.cpus_per_trial or 1.0,
        gpus_per_trial=ray_gpus_per_trial(spec.trial_gpu_number,
                                          service.max_trial_number_per_gpu),
        local_gpus=local_gpus,
    )


def simulated_backend(spec: ExperimentSpec) -> SimulatedBackend:
    """The simulated cluster of a spec (`training_service.platform: simulated`)."""
    from nas_cli.execution._simulated import SimulatedBackend

    service = spec.training_service
    return SimulatedBackend(
        spec.trial_concurrency, trial_seconds=service.trial_seconds,
        time_noise=service.time_noise, stragglers=service.stragglers,
        straggler_factor=service.straggler_factor, failure_rate=service.failure_rate,
        seed=service.seed, intermediate=spec.early_stopping is not None,
    )
