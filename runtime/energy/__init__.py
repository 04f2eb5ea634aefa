"""Energy meters: what a block of work cost, always labelled with where
the figure came from.

>>> import runtime.energy
>>> with runtime.energy.meter(powercap_root="/nonexistent") as m:
...     total = sum(i * i for i in range(200_000))
>>> m.source, m.joules > 0, m.cpu_seconds > 0, str(m).endswith(" J (estimate)")
('estimate', True, True, True)

Sources, the first that can be read:

- ``"rapl"``, Linux: package energy from the powercap sysfs tree
  (``/sys/class/powercap/intel-rapl:N/energy_uj``, package zones only,
  summed over packages, wrap-around handled; AMD Zen too).  MACHINE-WIDE:
  every process on the packages, and their idle power, counts, not only
  this block's work.  Usually needs root (Linux 5.10+).
- ``"darwin-rusage"``, macOS: this process's own energy as the kernel
  counts it, ``proc_pid_rusage(RUSAGE_INFO_V6)`` ``ri_energy_nj`` (and
  ``ri_penergy_nj``, the part on performance cores); no root needed.
  Written to Apple's header, not run on macOS here.
- ``"estimate"``, anywhere: this process's CPU seconds per core kind x a
  power model (watts per busy core of each kind, runtime/energy/_model.py:
  performance 4 W, efficiency 1 W by default, rough; ``power_model=`` or
  ``RUNTIME_POWER_MODEL="performance:4;efficiency:1"`` to change).

A counter that cannot be read (permission, missing file, garbage, a
counter that never counts) is listed in ``m.unreadable`` with the reason
and the meter falls back to the estimate: a failed read is never 0 J.
"""

from ._meter import SOURCES, Meter, format_energy, meter
from ._model import DEFAULT_POWER_MODEL
from ._model import ENVIRONMENT as POWER_MODEL_ENVIRONMENT
from ._rapl import DEFAULT_ROOT as DEFAULT_POWERCAP_ROOT

__all__ = ["DEFAULT_POWERCAP_ROOT", "DEFAULT_POWER_MODEL", "POWER_MODEL_ENVIRONMENT", "SOURCES",
           "Meter", "format_energy", "meter"]
