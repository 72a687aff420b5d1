'use strict';
// Runtime entry of the workspace package: the compiled output (npm run build).
module.exports = require('../../dist/libs/persistence/src/index.js');
