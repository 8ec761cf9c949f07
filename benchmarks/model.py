"""Seconds for whole-model comparisons (isolated + propagated, float32 and float64):
keras.applications.MobileNetV2 at 224x224, batch 2, against its parity.ports twin; and a
keras.applications-style ResNet-50 at 224x224, batch 1, against a torchvision-style port (traced
with torch.fx, matched by dataflow); and one SGD training step of the MobileNetV2 pair (batch
2) and of the ResNet50 pair (batch 1) (parity.model.training: forward, loss, backward
propagated and isolated, statistics, update, float32 and float64); and MobileNetV2 on Keras's
TensorFlow backend against its torch backend (float32 and float64), and one train_on_batch
of it on each backend."""
import time

from parity.model.zoo import run

for name in ("mobilenetv2", "tv-resnet50"):
    t0 = time.perf_counter()
    result = run(name)
    total = time.perf_counter() - t0
    s = result["seconds"]
    print(f"{name}: {result['layers_compared']} layers compared, verdict "
          f"{result['verdict']['status']}; {total:.1f} s in all (build, weights, compare: "
          f"setup {s['setup']:.1f} s, model runs {s['runs']:.1f} s, per-layer checks "
          f"{s['total'] - s['setup'] - s['runs']:.1f} s)")

for name, batch in (("mobilenetv2", 2), ("resnet50", 1)):
    result = run(name, train={"loss": "mse", "optimizer": "sgd", "learning_rate": 0.01})
    t = result["training"]
    s = t["seconds"]
    print(f"{name} --train (batch {batch}): {len(t['quantities'])} quantities of one step "
          f"compared, verdict {t['verdict']['status']}; the step {s['total']:.1f} s (setup "
          f"{s['setup']:.1f} s, the steps in float32 and float64 with the nudged float64 run "
          f"and the isolated backward {s['runs']:.1f} s, judging "
          f"{s['total'] - s['setup'] - s['runs']:.1f} s)")

t0 = time.perf_counter()
result = run("mobilenetv2-keras-torch")
total = time.perf_counter() - t0
s = result["seconds"]
print(f"mobilenetv2-keras-torch: {result['layers_compared']} layers compared, verdict "
      f"{result['verdict']['status']} (float32 {result['verdict']['float32']}); {total:.1f} s "
      f"in all (TF runs {s['setup']:.1f} s, the torch-backend child {s['runs']:.1f} s, "
      f"per-layer checks {s['total'] - s['setup'] - s['runs']:.1f} s)")

t0 = time.perf_counter()
result = run("mobilenetv2-keras-torch", train={"loss": "mse", "optimizer": "sgd"})
t = result["training"]
s = t["seconds"]
print(f"mobilenetv2-keras-torch --train: {len(t['quantities'])} quantities of one "
      f"train_on_batch compared, verdict {t['verdict']['status']}; {time.perf_counter() - t0:.1f} "
      f"s in all, the step {s['total']:.1f} s (TF float32, float64 and nudged "
      f"{s['tensorflow']:.1f} s, the torch-backend child {s['torch_backend']:.1f} s)")
