'use strict';
// Runtime entry of the workspace package: the compiled output (npm run build).
module.exports = require('../../dist/libs/proxy-core/src/index.js');
