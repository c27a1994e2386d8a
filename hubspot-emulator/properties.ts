// HubSpot's common standard contact properties, as GET /crm/v3/properties/contacts describes them
// (name, type, fieldType, and whether HubSpot computes or protects the value).
export interface PropertyDefinition {
  name: string;
  label: string;
  type: string;
  fieldType: string;
  groupName: string;
  description: string;
  options: Array<{ label: string; value: string; displayOrder: number; hidden: boolean }>;
  calculated: boolean;
  hubspotDefined: boolean;
  hasUniqueValue: boolean;
  hidden: boolean;
  formField: boolean;
  displayOrder: number;
  externalOptions: boolean;
  modificationMetadata: { archivable: boolean; readOnlyDefinition: boolean; readOnlyValue: boolean };
  createdAt: string;
  updatedAt: string;
  archived: boolean;
}

export interface PropertySeed {
  name: string;
  label?: string;
  type: string;
  fieldType: string;
  readOnlyValue?: boolean;
  calculated?: boolean;
  /** HubSpot refuses a write that gives another record the value one already has. */
  hasUniqueValue?: boolean;
  options?: string[];
  groupName?: string;
}

const EPOCH = '2019-08-06T02:41:08.000Z';

export function defineProperty(seed: PropertySeed, hubspotDefined: boolean): PropertyDefinition {
  return {
    name: seed.name,
    label: seed.label ?? seed.name,
    type: seed.type,
    fieldType: seed.fieldType,
    groupName: seed.groupName ?? 'contactinformation',
    description: '',
    options: (seed.options ?? []).map((value, i) => ({ label: value, value, displayOrder: i, hidden: false })),
    calculated: seed.calculated ?? false,
    hubspotDefined,
    hasUniqueValue: seed.hasUniqueValue ?? false,
    hidden: false,
    formField: !seed.readOnlyValue && !seed.calculated,
    displayOrder: -1,
    externalOptions: false,
    modificationMetadata: {
      archivable: !hubspotDefined,
      readOnlyDefinition: hubspotDefined,
      readOnlyValue: seed.readOnlyValue ?? false,
    },
    createdAt: EPOCH,
    updatedAt: EPOCH,
    archived: false,
  };
}

const text = (name: string, label: string): PropertySeed => ({ name, label, type: 'string', fieldType: 'text' });
const readOnly = (name: string, label: string, type = 'string', fieldType = 'text'): PropertySeed => ({
  name,
  label,
  type,
  fieldType,
  readOnlyValue: true,
});

export const STANDARD_CONTACT_PROPERTIES: PropertySeed[] = [
  text('email', 'Email'),
  text('firstname', 'First Name'),
  text('lastname', 'Last Name'),
  { name: 'phone', label: 'Phone Number', type: 'string', fieldType: 'phonenumber' },
  { name: 'mobilephone', label: 'Mobile Phone Number', type: 'string', fieldType: 'phonenumber' },
  text('company', 'Company Name'),
  text('jobtitle', 'Job Title'),
  text('website', 'Website URL'),
  text('address', 'Street Address'),
  text('city', 'City'),
  text('state', 'State/Region'),
  text('country', 'Country/Region'),
  text('zip', 'Postal Code'),
  { name: 'message', label: 'Message', type: 'string', fieldType: 'textarea' },
  {
    name: 'lifecyclestage',
    label: 'Lifecycle Stage',
    type: 'enumeration',
    fieldType: 'radio',
    options: [
      'subscriber',
      'lead',
      'marketingqualifiedlead',
      'salesqualifiedlead',
      'opportunity',
      'customer',
      'evangelist',
      'other',
    ],
  },
  {
    name: 'hs_additional_emails',
    label: 'Additional email addresses',
    type: 'enumeration',
    fieldType: 'checkbox',
    readOnlyValue: true,
  },
  readOnly('createdate', 'Create Date', 'datetime', 'date'),
  readOnly('lastmodifieddate', 'Last Modified Date', 'datetime', 'date'),
  readOnly('hs_object_id', 'Record ID', 'number', 'number'),
  readOnly('hs_object_source', 'Record source'),
  readOnly('hs_object_source_id', 'Record source ID'),
  readOnly('hs_object_source_label', 'Record source label'),
  {
    name: 'hs_merged_object_ids',
    label: 'Merged record IDs',
    type: 'enumeration',
    fieldType: 'checkbox',
    readOnlyValue: true,
  },
  {
    name: 'num_notes',
    label: 'Number of Sales Activities',
    type: 'number',
    fieldType: 'number',
    readOnlyValue: true,
    calculated: true,
  },
  {
    name: 'hs_full_name_or_email',
    label: 'Full name or email',
    type: 'string',
    fieldType: 'text',
    readOnlyValue: true,
    calculated: true,
  },
];

/** Properties HubSpot returns on every contact read, whatever `properties` asks for. */
export const DEFAULT_CONTACT_PROPERTIES = [
  'createdate',
  'email',
  'firstname',
  'hs_object_id',
  'lastmodifieddate',
  'lastname',
];
/** Note properties the API may write. */
export const NOTE_PROPERTIES = new Set(['hs_note_body', 'hs_timestamp', 'hubspot_owner_id', 'hs_attachment_ids']);
/** HubSpot's limit on a string property value (and on hs_note_body), in characters. */
export const MAX_VALUE_LENGTH = 65_536;
export const DEFAULT_NOTE_PROPERTIES = ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'];
