-- Minimal Neovim config for the tests: this plugin on the runtimepath, nothing else.
--   nvim --headless -u editors/nvim/test/minimal_init.lua -c 'luafile editors/nvim/test/unit.lua'
local here = debug.getinfo(1, 'S').source:sub(2)
local plugin = vim.fn.fnamemodify(here, ':p:h:h')
vim.opt.runtimepath = { vim.env.VIMRUNTIME, plugin }
vim.opt.packpath = {}
vim.opt.swapfile = false
vim.opt.shadafile = 'NONE'
vim.g.rapide_test_plugin_dir = plugin
