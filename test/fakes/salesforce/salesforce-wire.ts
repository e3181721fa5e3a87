/**
 * What real Salesforce sends on the wire, per Salesforce's REST API and OAuth docs: REST error arrays
 * `[{message, errorCode, fields}]`, OAuth token errors `{error, error_description}`, and the
 * standard Lead fields with their lengths (Salesforce field reference, Lead).
 */

/** One REST error as Salesforce returns it (inside an array). */
export interface RestError {
  message: string;
  errorCode: string;
  fields?: string[];
  [key: string]: unknown;
}

/** A canned HTTP answer: status, JSON body, optional headers. */
export interface CannedAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

function rest(status: number, errorCode: string, message: string, fields?: string[], extra: Record<string, unknown> = {}): CannedAnswer {
  return { status, body: [{ message, errorCode, ...(fields ? { fields } : {}), ...extra }] };
}

/** REST errors a Lead create can answer, with Salesforce's status and wording. */
export const REST_ERRORS = {
  INVALID_SESSION_ID: rest(401, 'INVALID_SESSION_ID', 'Session expired or invalid'),
  /** A 401 jsforce deliberately does not treat as session expiry (its `isSessionExpired` excludes this message). */
  SESSION_NOT_VALID_FOR_REST: rest(401, 'INVALID_SESSION_ID', 'This session is not valid for use with the REST API'),
  REQUEST_LIMIT_EXCEEDED: rest(403, 'REQUEST_LIMIT_EXCEEDED', 'TotalRequests Limit exceeded.'),
  CONCURRENT_REQUEST_LIMIT_EXCEEDED: rest(403, 'REQUEST_LIMIT_EXCEEDED', 'ConcurrentPerOrgLongTxn Limit exceeded.'),
  API_DISABLED_FOR_ORG: rest(403, 'API_DISABLED_FOR_ORG', 'The REST API is not enabled for this Organization.'),
  INSUFFICIENT_ACCESS: rest(403, 'INSUFFICIENT_ACCESS_OR_READONLY', 'insufficient access rights on object id'),
  REQUIRED_FIELD_MISSING: rest(400, 'REQUIRED_FIELD_MISSING', 'Required fields are missing: [Company]', ['Company']),
  INVALID_FIELD: rest(400, 'INVALID_FIELD', "No such column 'Marketplace_Offer__c' on sobject of type Lead"),
  STRING_TOO_LONG: rest(400, 'STRING_TOO_LONG', 'First Name: data value too large: XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX (max length=40)', ['FirstName']),
  FIELD_CUSTOM_VALIDATION_EXCEPTION: rest(400, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', 'Phone must be in international format', ['Phone']),
  DUPLICATES_DETECTED: rest(400, 'DUPLICATES_DETECTED', 'Use one of these records?', undefined, {
    duplicateResult: {
      allowSave: false, duplicateRule: 'Standard_Lead_Duplicate_Rule', duplicateRuleEntityType: 'Lead', errorMessage: 'Use one of these records?',
      matchResults: [{ entityType: 'Lead', errors: [], matchEngine: 'FuzzyMatchEngine', matchRecords: [{ record: { attributes: { type: 'Lead' }, Id: '00Q5g00000AbCdEEAZ' } }], rule: 'Standard_Lead_Match_Rule_v1_0', size: 1, success: true }],
    },
  }),
  NOT_FOUND: rest(404, 'NOT_FOUND', 'The requested resource does not exist'),
  UNKNOWN_EXCEPTION: rest(500, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred. Please include this ErrorId if you contact support: 1439416585-31290 (-1103927458)'),
  SERVER_UNAVAILABLE: rest(503, 'SERVER_UNAVAILABLE', 'Server temporarily unavailable.'),
} satisfies Record<string, CannedAnswer>;

function token(error: string, description: string, status = 400): CannedAnswer {
  return { status, body: { error, error_description: description } };
}

/** OAuth token endpoint errors (`{error, error_description}`), with Salesforce's descriptions. */
export const TOKEN_ERRORS = {
  invalid_client_id: token('invalid_client_id', 'client identifier invalid'),
  invalid_client: token('invalid_client', 'invalid client credentials'),
  invalid_client_credentials: token('invalid_client_credentials', 'client secret invalid'),
  /** What client credentials answers when no run-as user is set, or the flow is off for the app. */
  invalid_grant: token('invalid_grant', 'no client credentials user enabled'),
  /** What login.salesforce.com answers to client credentials: it only works on the org's My Domain. */
  invalid_grant_domain: token('invalid_grant', 'request not supported on this domain'),
  unsupported_grant_type: token('unsupported_grant_type', 'grant type not supported'),
  inactive_user: token('inactive_user', 'user is inactive'),
  inactive_org: token('inactive_org', 'organization is locked, closed, or suspended'),
  rate_limit_exceeded: token('rate_limit_exceeded', 'too many requests'),
} satisfies Record<string, CannedAnswer>;

/** Standard Lead fields and their lengths (Salesforce field reference, Lead); 0 = not a text field. */
export const LEAD_FIELDS: Record<string, { label: string; length: number }> = {
  FirstName: { label: 'First Name', length: 40 },
  LastName: { label: 'Last Name', length: 80 },
  Email: { label: 'Email', length: 80 },
  Phone: { label: 'Phone', length: 40 },
  MobilePhone: { label: 'Mobile Phone', length: 40 },
  Country: { label: 'Country', length: 80 },
  State: { label: 'State/Province', length: 80 },
  City: { label: 'City', length: 40 },
  Street: { label: 'Street', length: 255 },
  PostalCode: { label: 'Zip/Postal Code', length: 20 },
  Company: { label: 'Company', length: 255 },
  Title: { label: 'Title', length: 128 },
  Description: { label: 'Description', length: 32000 },
  LeadSource: { label: 'Lead Source', length: 255 },
  Industry: { label: 'Industry', length: 255 },
  Status: { label: 'Status', length: 255 },
  Rating: { label: 'Rating', length: 255 },
  Website: { label: 'Website', length: 255 },
  NumberOfEmployees: { label: 'Employees', length: 0 },
  HasOptedOutOfEmail: { label: 'Email Opt Out', length: 0 },
};

/** Web-to-Lead standard form names, as Salesforce's generated forms use them. */
export const WEB_TO_LEAD_FIELDS = [
  'first_name', 'last_name', 'title', 'URL', 'phone', 'mobile', 'fax', 'email', 'street', 'city', 'state', 'zip', 'country',
  'description', 'industry', 'rating', 'revenue', 'employees', 'company', 'lead_source', 'Campaign_ID', 'member_status', 'recordType',
];
