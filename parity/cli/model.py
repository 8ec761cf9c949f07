"""``parity model``: a Keras model against a torch module, layer by layer.

    parity model --zoo list                       the model pairs shipped with parity
    parity model --zoo naive-twin                 compare one of them
    parity model --keras model.keras --torch pkg.mod:build [--mapping map.json]
    parity model --zoo twin --train [--optimizer adam]  also one training step, compared

``--torch`` names a callable returning the torch module (called with no arguments). Exit codes:
0 every layer agrees, 1 a layer (with ``--train``, or a quantity of the step) diverges, 2 bad
input (unknown zoo name, unmappable model, unreadable file), 130 interrupted (Ctrl-C, SIGTERM), 129 hung up (SIGHUP). SIGTERM and SIGHUP stop
the comparison before the next layer: the report holds the layers compared so far, with
``complete: false`` and ``model.stopped_at``; Ctrl-C stops at once and the report holds no
model section.
"""
from __future__ import annotations

import json
import time

from parity.cli.common import EXIT_DIVERGENCE, EXIT_OK, BadInput


def add_arguments(p) -> None:
    p.add_argument("--zoo", help="a shipped model pair (list: --zoo list)")
    p.add_argument("--keras", help="a saved Keras model (.keras)")
    p.add_argument("--torch", help="pkg.module:callable returning the torch module")
    p.add_argument("--mapping", help="JSON file {keras_layer: torch_module or [modules]}")
    p.add_argument("--no-carry", action="store_true",
                   help="keep the torch module's own weights (checked against Keras's)")
    p.add_argument("--carry", choices=("keras-to-torch", "torch-to-keras", "none"),
                   default=None, help="which way the weights go (default keras-to-torch; "
                   "torch-to-keras: a model ported from torch to Keras; none = --no-carry)")
    p.add_argument("--torch-layout", choices=("nchw", "nhwc"), default=None,
                   help="the layout of the torch module's input (default nchw; nhwc: a module "
                   "that takes channels-last input and transposes it itself, as converters write)")
    p.add_argument("--against", choices=("keras-torch",), default=None,
                   help="with --keras: the same model on Keras's torch backend (a child process "
                   "with KERAS_BACKEND=torch) instead of a torch module")
    p.add_argument("--train", action="store_true",
                   help="also one training step, compared quantity by quantity (loss, gradients, "
                   "BatchNorm statistics, update), on seeded targets")
    p.add_argument("--loss", choices=("mse", "crossentropy"), default="mse",
                   help="with --train (crossentropy: the model outputs logits)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw", "rmsprop"), default=None,
                   help="with --train: Keras's optimizer (default sgd), translated to torch by "
                   "parity unless --torch-optimizer is given")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="with --train (default 0.01)")
    p.add_argument("--keras-step", choices=("tape", "train_on_batch"), default=None,
                   help="with --train: how Keras steps (default tape: a GradientTape step; "
                   "train_on_batch: compile + train_on_batch on a clone of the model)")
    p.add_argument("--steps", type=int, default=1,
                   help="with --train: steps on one batch, loss and weights compared after each")
    for flag, kind, what in (("--momentum", float, "sgd, rmsprop"), ("--beta-1", float, "adam"),
                             ("--beta-2", float, "adam"), ("--epsilon", float, "adam, rmsprop"),
                             ("--rho", float, "rmsprop"), ("--weight-decay", float, "adamw")):
        p.add_argument(flag, type=kind, default=None,
                       help=f"with --train: Keras's {flag[2:].replace('-', '_')} ({what}; "
                       "default Keras's)")
    p.add_argument("--nesterov", action="store_true", default=None, help="with --train and sgd")
    p.add_argument("--torch-optimizer", metavar="SPEC", default=None,
                   help="with --train: the torch side's own optimizer, run as given and checked "
                   "against Keras's: CLASS[:key=value,...], e.g. torch.optim.Adam:eps=1e-8 "
                   "(lr: --learning-rate unless given; tuples as betas=0.9/0.999)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="reports", help="report directory (default: reports)")


def _models(args):
    from parity.exec.candidates import load

    if args.against and not args.keras:
        raise BadInput("--against keras-torch needs --keras FILE")
    if args.against and args.torch:
        raise BadInput("--against keras-torch compares the Keras file with itself: no --torch")
    if not (args.keras and (args.torch or args.against)):
        raise BadInput("parity model needs --zoo NAME, or --keras FILE and --torch pkg.mod:fn")
    from parity.model import ModelError, legacy

    try:   # Keras 3, or a Keras 2 (tf_keras) file rebuilt in Keras 3 and checked
        keras_model, how = legacy.load(args.keras)
    except ModelError as e:
        raise BadInput(str(e)) from None
    return keras_model, (None if args.against else load(args.torch)()), how


def cmd_model(args) -> int:
    from parity.model.errors import ModelError
    from parity.model.zoo import ZOO, run

    if args.zoo == "list":
        for entry in ZOO.values():
            print(f"{entry.name:<22}{entry.description}")
        return EXIT_OK
    mapping = None
    if args.mapping:
        try:
            mapping = json.loads(open(args.mapping).read())
        except (OSError, ValueError) as e:
            raise BadInput(f"cannot read mapping {args.mapping}: {e}") from None
    from parity.core import signals

    if args.no_carry and args.carry not in (None, "none"):
        raise BadInput(f"--no-carry and --carry {args.carry} contradict each other")
    direction = "none" if args.no_carry else (args.carry or "keras-to-torch")
    carry = {"keras-to-torch": True, "torch-to-keras": "torch-to-keras", "none": False}[direction]
    train = _train_options(args) if args.train else None
    t0 = time.perf_counter()
    stopping = []
    previous = signals.install(lambda signum, frame: (signals.note(signum), stopping.append(1)))
    try:
        if args.zoo:
            chosen = {} if args.carry is None and not args.no_carry else \
                {"carry_weights": carry}   # else the pair's own default (converters: none)
            result = run(args.zoo, seed=args.seed, stop=lambda: bool(stopping), train=train,
                         **chosen)
        else:
            from parity.model import compare

            keras_model, torch_module, how = _models(args)
            if args.against:
                from parity.model.keras_backends import compare_backends

                result = compare_backends(keras_model, seed=args.seed,
                                          stop=lambda: bool(stopping), train=train)
            else:
                if train is not None:
                    train = {k: v for k, v in train.items() if v is not None}
                result = compare(keras_model, torch_module, mapping=mapping, seed=args.seed,
                                 carry_weights=carry, stop=lambda: bool(stopping),
                                 input_layout=args.torch_layout, train=train)
            result["keras_source"] = how
    except ModelError as e:
        raise BadInput(str(e)) from None
    except KeyboardInterrupt:
        path = _write(None, args, time.perf_counter() - t0)
        print(f"interrupted; report: {path}")
        return signals.exit_code()
    finally:
        signals.restore(previous)
    path = _write(result, args, time.perf_counter() - t0)
    _print(result, path)
    if "stopped_at" in result:
        print(f"stopped by {signals.received()} before layer {result['stopped_at']}: "
              f"{result['layers_compared']} of {result['layers_total']} layers compared")
        return signals.exit_code()
    failed = result["verdict"]["status"] != "pass" or \
        result.get("training", {}).get("verdict", {}).get("status") == "fail"
    return EXIT_DIVERGENCE if failed else EXIT_OK


def _train_options(args) -> dict:
    """``training.step``'s options from the flags (None: the pair's or Keras's default)."""
    if args.learning_rate is not None and not args.learning_rate > 0:
        raise BadInput(f"--learning-rate must be positive, got {args.learning_rate:g}")
    if args.steps < 1:
        raise BadInput(f"--steps must be at least 1, got {args.steps}")
    train = {"loss": args.loss, "optimizer": args.optimizer, "learning_rate": args.learning_rate,
             "steps": args.steps, "keras_step": args.keras_step,
             "momentum": args.momentum, "nesterov": args.nesterov,
             "beta_1": args.beta_1, "beta_2": args.beta_2, "epsilon": args.epsilon,
             "rho": args.rho, "weight_decay": args.weight_decay}
    if args.torch_optimizer:
        from parity.model.errors import ModelError
        from parity.model.training_optim import from_spec

        try:
            train["torch_optimizer"] = from_spec(args.torch_optimizer,
                                                 args.learning_rate or 0.01)
        except ModelError as e:
            raise BadInput(str(e)) from None
    return train


def _write(result: dict | None, args, seconds: float):
    """The report of a comparison; ``result`` None: interrupted before it ended (no model
    section), or a result with ``stopped_at``: stopped by a signal (``complete: false``)."""
    from parity.backends import environment
    from parity.core import signals
    from parity.report.build import build_report
    from parity.report.html import write_report_html
    from parity.report.io import validate, write_report

    stopped = result is None or "stopped_at" in result
    run = {"command": "model", "seed": args.seed, "duration_s": round(seconds, 3),
           "interrupted": stopped}
    if stopped and signals.received():
        run["signal"] = signals.received()
    report = build_report([], run=run, complete=not stopped,
                          environment=environment.collect(environment.framework_threads()))
    if result is not None:
        report["model"] = result
    validate(report)
    name = "model-" + ((result or {}).get("zoo", {}).get("name") or (result or {}).get(
        "keras_model") or args.zoo or "interrupted")
    path = write_report(report, args.out, name)
    write_report_html(report, path)
    return path


def _print(result: dict, path) -> None:
    from parity.core.text import printable  # layer names come from the user's model files

    v = result["verdict"]
    print(f"{'layer':<28}{'type':<22}{'isolated f32/f64':<22}{'propagated f32/f64':<22}verdict")
    fmt = lambda m: "-" if not m else ("shape" if m["bound_ratio"] is None  # noqa: E731
                                       else f"{m['bound_ratio']:.2g}")
    for r in result["layers"]:
        iso = f"{fmt(r['isolated'].get('float32'))} / {fmt(r['isolated'].get('float64'))}"
        prop = f"{fmt(r['propagated'].get('float32'))} / {fmt(r['propagated'].get('float64'))}"
        if r["verdict"] != "pass" or len(result["layers"]) <= 40:
            print(printable(f"{r['layer'][:27]:<28}{r['type'][:21]:<22}{iso:<22}{prop:<22}"
                            f"{r['verdict']}"))
    print(f"{result['layers_compared']} of {result['layers_total']} Keras layers compared "
          f"(bound ratios; > 1 diverges); worst isolated "
          f"{v['worst_isolated_ratio'] or 0:.3g}, propagated {v['worst_propagated_ratio'] or 0:.3g}")
    out = result["output"]["float32"]
    if out["shape_match"]:
        tol = out["minimum_tolerance"]
        print(f"model output, float32: minimum tolerance atol {tol['atol']:.3g}, "
              f"rtol {tol['rtol']:.3g}")
    else:
        print("model output: the shapes differ")
    if v["status"] == "pass":
        print("verdict: pass (no layer diverges)")
    else:
        print(printable(f"verdict: FAIL; first diverging layer: "
                        f"{v['first_diverging'] or v['first_propagated']}"))
        if v.get("cause"):
            print(printable(f"cause: {v['cause']['text']}"))
            if v["cause"].get("op_pair", {}).get("repro"):
                print("repro:\n" + v["cause"]["op_pair"]["repro"])
    if "torch_backend" in result:
        b = result["torch_backend"]
        print(f"Keras {b['keras']} on the torch backend; in float32 alone: "
              f"{v['float32']}" + ("" if b["float64"] else
                                   " (Keras computes float64 in float32 there; parity's float64 "
                                   "run keeps float64)"))
    if "training" in result:
        _print_training(result["training"])
    print(f"report: {path}")


def _print_training(t: dict) -> None:
    from parity.core.text import printable

    rows = t["quantities"]
    bad = [q for q in rows if q["float32"]["mismatched"] or q["float64"]["mismatched"] or
           not q["float32"]["shape_match"]]
    steps = f"{t['steps']} steps" if t["steps"] > 1 else "one step"
    print(printable(f"training, {steps} ({t['optimizer']}, {t['loss']}; torch optimizer "
                    f"{t['torch_optimizer']}): {len(rows)} quantities of the first step "
                    f"compared, {len(bad)} diverge"))
    for stage, f in t["verdict"]["first_by_stage"].items():
        where = " ".join(x for x in (f["layer"], f["weight"]) if x)
        print(printable(f"  first in the {stage}: {f['kind']} {where}".rstrip()))
        print(printable(f"    cause: {f['cause']['text']}"))
    if t["steps"] > 1:
        for h in t["history"]:
            if h["status"] == "not_finite":
                print(printable(f"  step {h['step']:>3}: {h['note']}"))
                continue
            w = h["worst_weight"]["float64"]
            print(printable(f"  step {h['step']:>3}: {h['status']:<4}  loss "
                            f"{h['loss']['float32']:.6g}"
                            + (f"  worst weight {w['layer']}.{w['weight']} float64 ratio "
                               f"{w['bound_ratio']:.3g}" if w else "")))
    v = t["verdict"]
    first, parted = v["first_diverging"], v["parted_at_step"]
    where = "" if first is None else " ".join(x for x in (first["kind"], first["layer"],
                                                           first["weight"]) if x)
    late = v.get("not_finite_at_step")
    if late:
        print(f"  (the loss is not finite from step {late} on: steps 1 to {late - 1} compared)")
    print("training verdict: pass" if v["status"] == "pass" else printable(
        "training verdict: FAIL" + (f"; first diverging: {where}" if first else "")
        + (f"; parted at step {parted['step']} in {parted['layer']}.{parted['weight']}"
           if parted else "")))
