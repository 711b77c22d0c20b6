"""Lightning evaluator vs a hand-written PyTorch loop: the same CNN, data, epochs and optimizer.

Run: python -m bench.bench_evaluator. `main()` returns [(name, ratio, target)] rows.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

EPOCHS = 5
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
REPEATS = 15
TARGET = 1.3


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(8 * 8 * 8, 64),
        torch.nn.ReLU(),
        torch.nn.Linear(64, 10),
    )


def hand_loop(train, val) -> float:
    """The baseline: what one would write by hand for the same job (returns val_acc)."""
    model = _model()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    x_train, y_train = train.tensors
    x_val, y_val = val.tensors
    generator = torch.Generator().manual_seed(0)
    for _ in range(EPOCHS):
        model.train()
        train_loss, seen = 0.0, 0
        for index in torch.randperm(len(x_train), generator=generator).split(BATCH_SIZE):
            loss = F.cross_entropy(model(x_train[index]), y_train[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            train_loss += loss.detach() * len(index)
            seen += len(index)
        model.eval()
        with torch.inference_mode():
            out = model(x_val)
            val_loss = F.cross_entropy(out, y_val, reduction="sum").item() / len(y_val)
            val_acc = (out.argmax(1) == y_val).sum().item() / len(y_val)
        _ = (float(train_loss) / seen, val_loss)
    return val_acc


def evaluator(cfg) -> float:
    from nas_cli.evaluator import train_and_evaluate

    return train_and_evaluate(_model(), cfg, seed=0)["val_acc"]


def main() -> list[tuple[str, float, float]]:
    """Times both, paired and alternating; the ratio is the median of per-pair CPU-time ratios.

    Both run on one thread with no I/O, so CPU time measures the same work as wall time while
    staying steady when other processes share the machine; wall-clock numbers are shown too.
    """
    torch.set_num_threads(1)
    started = time.perf_counter()
    from nas_cli.evaluator import load_dataset, train_and_evaluate  # noqa: F401  (imports Lightning)
    from nas_cli.spec._models import TrainingEvaluatorSpec

    import_s = time.perf_counter() - started
    train, val = load_dataset("digits", task="classification")
    cfg = TrainingEvaluatorSpec(
        type="classification",
        dataset="digits",
        max_epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        learning_rate=LEARNING_RATE,
        optimizer="adam",
    )
    runs = {"hand_loop": lambda: hand_loop(train, val), "evaluator": lambda: evaluator(cfg)}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    accs: dict[str, float] = {}
    for run in runs.values():  # warm-up: first-call costs (allocator, kernels) are not timed
        run()
    for repeat in range(REPEATS):  # back to back, alternating order: pairs share machine noise
        for name in list(runs) if repeat % 2 == 0 else list(reversed(runs)):
            w0, c0 = time.perf_counter(), time.process_time()
            accs[name] = runs[name]()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)

    def paired_ratio(times: dict[str, list[float]]) -> float:
        return statistics.median(e / h for e, h in zip(times["evaluator"], times["hand_loop"]))

    steps = EPOCHS * -(-len(train) // BATCH_SIZE)
    print(
        f"digits: {EPOCHS} epochs x {steps // EPOCHS} steps of {BATCH_SIZE}, small CNN, Adam, "
        f"1 thread, {REPEATS} paired repeats"
    )
    print(f"{'':<10} {'cpu s':>7} {'wall s':>7} {'min wall':>8} {'ms/step':>8} {'val_acc':>8}")
    for name in runs:
        c, w = statistics.median(cpu[name]), statistics.median(wall[name])
        print(
            f"{name:<10} {c:>7.3f} {w:>7.3f} {min(wall[name]):>8.3f} "
            f"{1e3 * c / steps:>8.2f} {accs[name]:>8.3f}"
        )
    print(f"wall-clock ratio: {paired_ratio(wall):.2f}x (noisy when the machine is shared)")
    print(
        "one-time per process, not timed above: importing the evaluator "
        f"(torch + pytorch_lightning) {import_s:.1f} s"
    )
    ratio = paired_ratio(cpu)
    print(f"evaluator/hand_loop ratio: {ratio:.2f}x (target <= {TARGET}x)")
    return [("evaluator/hand_loop", ratio, TARGET)]


if __name__ == "__main__":
    main()
