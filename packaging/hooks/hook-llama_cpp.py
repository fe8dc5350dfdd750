# llama-cpp-python loads libllama/libggml*.so from its package folder with ctypes.
from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, copy_metadata

binaries = collect_dynamic_libs("llama_cpp")
datas = collect_data_files("llama_cpp", includes=["**/*.so*", "**/*.dylib", "**/*.dll"]) + copy_metadata("llama_cpp_python")
