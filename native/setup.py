"""The C extension of suiji_native (metadata: pyproject.toml)."""
import sys

from setuptools import Extension, setup

args = [] if sys.platform == "win32" else ["-O3", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
setup(ext_modules=[Extension("suiji_native._scores", ["src/suiji_native/_scores.c"], extra_compile_args=args)])
