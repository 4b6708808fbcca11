"""Builds the optional native kernel tier (the C extension upyflow_native).

Metadata lives in pyproject.toml; this file only adds the extension. If no C
compiler is available the build goes on without it and upyflow falls back to
its Python kernel tiers.
"""

from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


class BuildExt(build_ext):
    # -O3 lets GCC/Clang vectorize the int8 dot products; MSVC spells it /O2. An undeclared
    # function is an error, as in the natmod builds (it would only fail at import).
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        flags = ["/O2"] if msvc else ["-O3", "-Werror=implicit-function-declaration"]
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "upyflow_native",
            sources=["native_modules/cpython/upyflow_native.c"] + sorted(glob("native_modules/src/*.c")),
            include_dirs=["native_modules/src"],
            depends=sorted(glob("native_modules/src/*.h")),
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
