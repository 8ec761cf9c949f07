"""Op families. Importing this package registers every op pair: each module of the package
is imported (discovered, not listed); a module that extends other modules' ops (adds variants)
imports them first."""
import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
