"""``Progbar``: Keras' text progress bar (``keras.utils.Progbar``)."""
import math
import sys
import time

__all__ = ["Progbar"]


def _format_time(seconds_per_unit, unit_name):
    if seconds_per_unit >= 1 or seconds_per_unit == 0:
        return f" {seconds_per_unit:.0f}s/{unit_name}"
    if seconds_per_unit >= 1e-3:
        return f" {seconds_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {seconds_per_unit * 1e6:.0f}us/{unit_name}"


def _format_value(average):
    return f" {average:.4f}" if abs(average) > 1e-3 else f" {average:.4e}"


class Progbar:
    """A progress bar written to ``sys.stdout``, as Keras' ``Progbar``.

    Args:
        target: the total number of steps, or None if unknown.
        width: the bar's width in characters.
        verbose: 0 silent, 1 a bar redrawn in place (a new line each time when stdout is not a
            terminal), 2 one line when finished.
        interval: the minimum seconds between redraws.
        stateful_metrics: names of metrics shown as given; the others are averaged over the steps
            (weighted by how many steps each update covers).
        stateless_metrics: the opposite choice (Keras 3): these are averaged, the others shown as
            given; at most one of the two.
        unit_name: the unit shown with the time per unit (``'step'``).
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if verbose not in (0, 1, 2):
            raise ValueError(f"Progbar: verbose={verbose!r}; expected 0, 1 or 2")
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError("Progbar: pass stateful_metrics (shown as given; others averaged) or "
                             "stateless_metrics (averaged; others shown as given), not both")
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = None if stateless_metrics is None else set(stateless_metrics)
        self._dynamic_display = ((hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
                                 or "ipykernel" in sys.modules)
        self._seen_so_far = 0
        self._values = {}            # name -> [weighted sum, count] (stateful: [value, 1])
        self._values_order = []
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def _average(self, name):
        total, count = self._values[name]
        return total / max(1, count)

    def _step_seconds(self, current, now):
        # The first step (often slow: set-up) is left out of the estimate once there are more.
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            seconds = (now - self._time_after_first_step) / (current - 1)
        else:
            seconds = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return seconds

    def update(self, current, values=None, finalize=None):
        """Show step ``current``; ``values``: ``[(name, value_for_these_steps), ...]``;
        ``finalize`` (default ``current >= target``) ends the bar with a newline."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            if name not in self._values_order:
                self._values_order.append(name)
            if self.stateless_metrics is not None:
                averaged = name in self.stateless_metrics
            else:
                averaged = name not in self.stateful_metrics
            if not averaged or finalize:
                self._values[name] = [value, 1]
            else:
                weight = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * weight, count + weight]
        self._seen_so_far = current
        now = time.time()
        per_unit = self._step_seconds(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._write_bar(current, now, per_unit, finalize)
        elif self.verbose == 2 and finalize:
            count = self._count(current) if self.target else f"{current}"
            info = f"{count} - {now - self._start:.0f}s -{_format_time(per_unit, self.unit_name)}"
            info += "".join(f" - {k}:{_format_value(self._average(k))}" for k in self._values_order)
            sys.stdout.write(info + "\n")
            sys.stdout.flush()
        self._last_update = now

    def _count(self, current):
        digits = int(math.log10(self.target)) + 1
        return f"{current:{digits}d}/{self.target}"

    def _write_bar(self, current, now, per_unit, finalize):
        prefix = "\b" * self._prev_total_width + "\r" if self._dynamic_display else "\n"
        if self.target:
            done = min(int(self.width * current / self.target), self.width)
            bar = f"{self._count(current)} [" + "=" * done + "." * (self.width - done) + "]"
        else:
            bar = f"{current:7d}/Unknown"
        if self.target and not finalize:
            eta = per_unit * (self.target - current)
            if eta > 3600:
                eta_text = f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
            elif eta > 60:
                eta_text = f"{int(eta // 60)}:{int(eta % 60):02d}"
            else:
                eta_text = f"{int(eta)}s"
            info = f" - ETA: {eta_text}"
        else:
            info = f" - {now - self._start:.0f}s"
        info += _format_time(per_unit, self.unit_name)
        info += "".join(f" - {k}:{_format_value(self._average(k))}" for k in self._values_order)
        width = len(bar) + len(info)
        padding = " " * max(self._prev_total_width - width, 0)
        sys.stdout.write(prefix + bar + info + padding + ("\n" if finalize else ""))
        sys.stdout.flush()
        self._prev_total_width = width

    def add(self, n, values=None):
        """Advance by ``n`` steps (``update(seen + n, values)``)."""
        self.update(self._seen_so_far + n, values)
