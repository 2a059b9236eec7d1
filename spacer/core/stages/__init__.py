"""The pipeline's stages as file-to-file functions (extract, pic, symbols, plan, aslr, lds,
relink, verify, report)."""
