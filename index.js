// n8n loads this package through the "n8n" section of package.json; this entry point only
// satisfies tools that require a "main" file.
module.exports = {};
