// An ES module application on the embedded SDK.
import * as dynamo from 'dynamo-otel';
import exercise from './exercise.cjs';

const result = await exercise(dynamo);
console.log(JSON.stringify({ ...result, loaded: import.meta.resolve('dynamo-otel') }));
