//! The approval protocol's pure logic, shared by the `request` and `review` functions: IDs,
//! records, decision rules, messages and pages. No AWS I/O here. (A skeleton so far.)
